using System.Runtime.InteropServices;

namespace Trainyard.Images;

/// <summary>
/// The system calls images need that .NET does not expose: path resolution confined to a directory
/// (openat2 with RESOLVE_IN_ROOT), the *at family for unpacking, extended attributes, flock, and the
/// mount API (open_tree, mount_setattr, move_mount, fsopen/fsconfig/fsmount) for idmapped overlay roots.
/// Syscall numbers above 424 are shared by every Linux architecture; the others go through libc.
/// </summary>
internal static unsafe partial class ImageInterop
{
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;
    public const int AT_RECURSIVE = 0x8000;

    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_TRUNC = 0x200;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_BENEATH = 0x08;
    public const ulong RESOLVE_IN_ROOT = 0x10;

    public const uint S_IFIFO = 0x1000;
    public const uint S_IFCHR = 0x2000;

    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int EXDEV = 18;

    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;

    public const uint OPEN_TREE_CLONE = 1;
    public const uint OPEN_TREE_CLOEXEC = 0x80000;
    public const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    public const uint MOVE_MOUNT_T_EMPTY_PATH = 0x40;
    public const ulong MOUNT_ATTR_IDMAP = 0x100000;
    public const uint FSOPEN_CLOEXEC = 1;
    public const uint FSMOUNT_CLOEXEC = 1;
    public const uint FSCONFIG_SET_STRING = 1;
    public const uint FSCONFIG_CMD_CREATE = 6;

    public const ulong MS_BIND = 0x1000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_PRIVATE = 1 << 18;
    public const int MNT_DETACH = 2;

    private const long SYS_open_tree = 428;
    private const long SYS_move_mount = 429;
    private const long SYS_fsopen = 430;
    private const long SYS_fsconfig = 431;
    private const long SYS_fsmount = 432;
    private const long SYS_openat2 = 437;
    private const long SYS_mount_setattr = 442;

    [StructLayout(LayoutKind.Sequential)]
    private struct OpenHow
    {
        public ulong Flags;
        public ulong Mode;
        public ulong Resolve;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttr
    {
        public ulong AttrSet;
        public ulong AttrClr;
        public ulong Propagation;
        public ulong UsernsFd;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno) + $" (errno {errno})";

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

    public static int OpenTree(int dirFd, string path, uint flags)
    {
        var bytes = Utf8(path);
        fixed (byte* p = bytes)
        {
            return (int)Syscall(SYS_open_tree, dirFd, (long)p, flags, 0, 0);
        }
    }

    public static int SetIdmap(int treeFd, int usernsFd)
    {
        var attr = new MountAttr { AttrSet = MOUNT_ATTR_IDMAP, UsernsFd = (ulong)usernsFd };
        var empty = Utf8("");
        fixed (byte* p = empty)
        {
            return (int)Syscall(SYS_mount_setattr, treeFd, (long)p, AT_EMPTY_PATH, (long)&attr, sizeof(MountAttr));
        }
    }

    public static int MoveMount(int fromFd, string fromPath, int toFd, string toPath, uint flags)
    {
        var from = Utf8(fromPath);
        var to = Utf8(toPath);
        fixed (byte* f = from)
        fixed (byte* t = to)
        {
            return (int)Syscall(SYS_move_mount, fromFd, (long)f, toFd, (long)t, flags);
        }
    }

    public static int FsOpen(string fsName)
    {
        var name = Utf8(fsName);
        fixed (byte* n = name)
        {
            return (int)Syscall(SYS_fsopen, (long)n, FSOPEN_CLOEXEC, 0, 0, 0);
        }
    }

    public static int FsConfigString(int fsFd, string key, string value)
    {
        var k = Utf8(key);
        var v = Utf8(value);
        fixed (byte* kp = k)
        fixed (byte* vp = v)
        {
            return (int)Syscall(SYS_fsconfig, fsFd, FSCONFIG_SET_STRING, (long)kp, (long)vp, 0);
        }
    }

    public static int FsConfigCreate(int fsFd) => (int)Syscall(SYS_fsconfig, fsFd, FSCONFIG_CMD_CREATE, 0, 0, 0);

    public static int FsMount(int fsFd) => (int)Syscall(SYS_fsmount, fsFd, FSMOUNT_CLOEXEC, 0, 0, 0);

    [LibraryImport("libc", EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string? source, string target, string? fsType, ulong flags, string? data);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

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

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "utimensat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UtimensAt(int dirFd, string path, Timespec* times, int flags);

    [LibraryImport("libc", EntryPoint = "futimens", SetLastError = true)]
    private static partial int Futimens(int fd, Timespec* times);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

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
                    if (LastError == EINTR)
                    {
                        continue;
                    }

                    throw new IOException("write failed: " + Describe(LastError));
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
