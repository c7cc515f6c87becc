using System.Runtime.InteropServices;

namespace Trainyard.Interop;

/// <summary>Extended attributes by path, realpath(3) and copy_file_range(2): what the embedded S3 store needs.</summary>
internal static unsafe partial class Libc
{
    public const int E2BIG = 7;
    public const int ENODATA = 61;
    public const int ERANGE = 34;
    public const int EOPNOTSUPP = 95;

    [LibraryImport("libc", EntryPoint = "setxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int SetXattr(string path, string name, byte[] value, nuint size, int flags);

    [LibraryImport("libc", EntryPoint = "getxattr", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint GetXattr(string path, string name, byte* value, nuint size);

    [LibraryImport("libc", EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint RealPathNative(string path, nint resolved);

    [LibraryImport("libc", EntryPoint = "free")]
    private static partial void Free(nint pointer);

    [LibraryImport("libc", EntryPoint = "copy_file_range", SetLastError = true)]
    public static partial nint CopyFileRange(int fdIn, long* offIn, int fdOut, long* offOut, nuint length, uint flags);

    /// <summary>The canonical absolute path of an existing <paramref name="path"/> (every symlink resolved), or null with errno set.</summary>
    public static string? RealPath(string path)
    {
        var resolved = RealPathNative(path, 0);
        if (resolved == 0)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>The value of attribute <paramref name="name"/> of <paramref name="path"/>; null when it has none (or the file system keeps none).</summary>
    public static byte[]? ReadXattr(string path, string name)
    {
        Span<byte> small = stackalloc byte[1024];
        fixed (byte* p = small)
        {
            var n = GetXattr(path, name, p, (nuint)small.Length);
            if (n >= 0)
            {
                return small[..(int)n].ToArray();
            }
        }

        if (LastError != ERANGE)
        {
            return null;
        }

        var size = GetXattr(path, name, null, 0);
        if (size < 0)
        {
            return null;
        }

        var buffer = new byte[size];
        fixed (byte* p = buffer)
        {
            var n = GetXattr(path, name, p, (nuint)buffer.Length);
            return n < 0 ? null : buffer[..(int)n];
        }
    }
}
