using System.Runtime.InteropServices;

namespace Trainyard.Interop;

/// <summary>
/// Paths resolved beneath a directory (openat2 with RESOLVE_IN_ROOT) and the *at calls that unpack image
/// layers without following a final symlink; extended attributes, times, flock(2) and dup(2).
/// </summary>
internal static unsafe partial class Libc
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;
    public const int AT_RECURSIVE = 0x8000;

    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_TRUNC = 0x200;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;

    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_BENEATH = 0x08;
    public const ulong RESOLVE_IN_ROOT = 0x10;

    public const uint S_IFIFO = 0x1000;
    public const uint S_IFCHR = 0x2000;

    public const int EEXIST = 17;
    public const int ENOSPC = 28;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int EXDEV = 18;

    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;

    private const long SYS_openat2 = 437;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, long a1, long a2, long a3, long a4, long a5);

    /// <summary>openat2(2): resolves <paramref name="path"/> below <paramref name="dirFd"/> with <paramref name="resolve"/> rules.</summary>
    public static int OpenAt2(int dirFd, string path, int flags, uint mode, ulong resolve)
    {
        var how = new OpenHow { Flags = (ulong)(uint)flags, Mode = mode, Resolve = resolve };
        var bytes = Utf8(path);
        fixed (byte* p = bytes)
        {
            long r;
            do
            {
                r = Syscall(SYS_openat2, dirFd, (long)p, (long)&how, sizeof(OpenHow), 0);
            }
            while (r < 0 && LastError is EINTR or EAGAIN);
            return (int)r;
        }
    }

    /// <summary>dup(2): a copy without close-on-exec, which a child process inherits.</summary>
    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int OpenAt(int dirFd, string path, int flags, uint mode);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MkdirAt(int dirFd, string path, uint mode);

    [LibraryImport("libc", EntryPoint = "mknodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int MknodAt(int dirFd, string path, uint mode, ulong dev);

    [LibraryImport("libc", EntryPoint = "symlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SymlinkAt(string target, int dirFd, string path);

    [LibraryImport("libc", EntryPoint = "linkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int LinkAt(int oldDirFd, string oldPath, int newDirFd, string newPath, int flags);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int UnlinkAt(int dirFd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "renameat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt(int oldDirFd, string oldPath, int newDirFd, string newPath);

    [LibraryImport("libc", EntryPoint = "fchownat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FchownAt(int dirFd, string path, int uid, int gid, int flags);

    [LibraryImport("libc", EntryPoint = "fchown", SetLastError = true)]
    public static partial int Fchown(int fd, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "fchmod", SetLastError = true)]
    public static partial int Fchmod(int fd, uint mode);

    [LibraryImport("libc", EntryPoint = "fchmodat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FchmodAt(int dirFd, string path, uint mode, int flags);

    [LibraryImport("libc", EntryPoint = "fsetxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Fsetxattr(int fd, string name, byte[] value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UtimensAt(int dirFd, string path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static partial int Futimens(int fd, Timespec* times);

    /// <summary>Sets the access and modification times of <paramref name="path"/> (not following a final symlink).</summary>
    public static int SetTimes(int dirFd, string path, DateTimeOffset time)
    {
        var t = stackalloc Timespec[2];
        t[0] = t[1] = ToTimespec(time);
        return UtimensAt(dirFd, path, t, AT_SYMLINK_NOFOLLOW);
    }

    public static int SetTimes(int fd, DateTimeOffset time)
    {
        var t = stackalloc Timespec[2];
        t[0] = t[1] = ToTimespec(time);
        return Futimens(fd, t);
    }

    /// <summary>Writes all of <paramref name="data"/> to <paramref name="fd"/>.</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var offset = 0;
            while (offset < data.Length)
            {
                var n = Write(fd, p + offset, (nuint)(data.Length - offset));
                if (n < 0)
                {
                    var error = LastError;
                    if (error == EINTR)
                    {
                        continue;
                    }

                    // The errno travels as the HResult, as .NET's own file I/O does on Unix (ENOSPC is recognised by it).
                    throw new IOException("write failed: " + Describe(error), error);
                }

                offset += (int)n;
            }
        }
    }

    private static Timespec ToTimespec(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTime.UnixEpoch.Ticks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var rest);
        if (rest < 0)
        {
            seconds--;
            rest += TimeSpan.TicksPerSecond;
        }

        return new Timespec { Seconds = seconds, Nanoseconds = rest * 100 };
    }

    private static byte[] Utf8(string s)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
        System.Text.Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
