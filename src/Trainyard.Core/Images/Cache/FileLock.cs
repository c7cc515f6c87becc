using Trainyard.Interop;

namespace Trainyard.Images.Cache;

/// <summary>
/// An flock(2) on a file of the cache: shared or exclusive, across processes on one machine (and on
/// file systems that carry flock between machines). Waiting polls, so it can be cancelled. The file is
/// opened with open(2) directly: .NET's FileStream takes flocks of its own, which would collide.
/// </summary>
public sealed class FileLock : IDisposable
{
    private int _fd;

    private FileLock(int fd) => _fd = fd;

    public static async Task<FileLock> AcquireAsync(string path, bool exclusive, CancellationToken cancellationToken)
    {
        while (true)
        {
            var taken = TryAcquire(path, exclusive);
            if (taken is not null)
            {
                return taken;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The lock, or null when another holder has it.</summary>
    public static FileLock? TryAcquire(string path, bool exclusive)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var fd = Libc.OpenAt(Libc.AT_FDCWD, path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0x1A4 /* 0644 */);
        if (fd < 0)
        {
            throw new IOException($"cannot open the lock {path}: {Libc.Describe(Libc.LastError)}");
        }

        if (Libc.Flock(fd, (exclusive ? Libc.LOCK_EX : Libc.LOCK_SH) | Libc.LOCK_NB) == 0)
        {
            return new FileLock(fd);
        }

        var error = Libc.LastError;
        Libc.Close(fd);
        if (error is Libc.EAGAIN or Libc.EINTR)
        {
            return null;
        }

        throw new IOException($"cannot lock {path}: {Libc.Describe(error)}");
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }
}
