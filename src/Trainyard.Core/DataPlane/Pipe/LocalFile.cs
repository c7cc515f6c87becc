using Trainyard.Interop;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// An open local file shared by the queued chunks that splice from it: each holder releases its reference
/// and the descriptor closes with the last, so it never closes under the writer thread (nor gets reused).
/// </summary>
internal sealed class LocalFile
{
    private int _references = 1;

    private LocalFile(int fd) => Descriptor = fd;

    public int Descriptor { get; }

    public static LocalFile Open(string path)
    {
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open {path}: {Libc.Describe(Libc.LastError)}");
        }

        _ = Libc.PosixFadvise(fd, 0, 0, Libc.POSIX_FADV_SEQUENTIAL);
        return new LocalFile(fd);
    }

    public LocalFile AddReference()
    {
        Interlocked.Increment(ref _references);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _ = Libc.Close(Descriptor);
        }
    }
}
