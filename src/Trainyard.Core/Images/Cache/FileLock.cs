using Microsoft.Win32.SafeHandles;

namespace Trainyard.Images.Cache;

/// <summary>
/// An flock(2) on a file of the cache: shared or exclusive, across processes on one machine (and on
/// file systems that carry flock between machines). Waiting polls, so it can be cancelled.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly SafeFileHandle _handle;

    private FileLock(SafeFileHandle handle) => _handle = handle;

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
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var fd = (int)handle.DangerousGetHandle();
        if (ImageInterop.Flock(fd, (exclusive ? ImageInterop.LOCK_EX : ImageInterop.LOCK_SH) | ImageInterop.LOCK_NB) == 0)
        {
            return new FileLock(handle);
        }

        var error = ImageInterop.LastError;
        handle.Dispose();
        if (error is ImageInterop.EAGAIN or ImageInterop.EINTR)
        {
            return null;
        }

        throw new IOException($"cannot lock {path}: {ImageInterop.Describe(error)}");
    }

    public void Dispose() => _handle.Dispose();
}
