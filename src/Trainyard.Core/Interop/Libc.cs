using System.Runtime.InteropServices;

namespace Trainyard.Interop;

/// <summary>
/// Every libc call Trainyard makes, one partial file per concern (files, pipes, mounts, processes). All
/// imports are <c>[LibraryImport("libc", SetLastError = true)]</c>: after a call fails, read
/// <see cref="LastError"/> at once (before any other call) and name it with <see cref="Describe"/>.
/// Linux only; constants are the x86-64/arm64 values (identical for these).
/// </summary>
internal static partial class Libc
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENODEV = 19;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EROFS = 30;
    public const int EPIPE = 32;
    public const int ENOSYS = 38;

    /// <summary>The errno of the last failed libc call on this thread.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>The C library's message for <paramref name="errno"/>, with its number.</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno) + $" (errno {errno})";
}
