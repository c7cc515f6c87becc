namespace Trainyard.DataPlane.FastFile;

/// <summary>How a FastFile mount fetches and caches bytes.</summary>
public sealed record FastFileOptions
{
    /// <summary>The unit of a ranged read from the store and of the block cache.</summary>
    public int BlockSize { get; init; } = 1 << 20;

    /// <summary>How many blocks ahead of a sequential reader are fetched.</summary>
    public int ReadAheadBlocks { get; init; } = 64;

    /// <summary>
    /// Read-ahead fetches this many consecutive blocks with one ranged read (fewer, larger GETs, as
    /// object stores prefer); each block is usable as soon as its bytes have arrived.
    /// </summary>
    public int ReadAheadRangeBlocks { get; init; } = 8;

    /// <summary>The most bytes the block cache holds (recently read and read-ahead blocks).</summary>
    public long CacheBytes { get; init; } = 256L << 20;

    /// <summary>The most ranged reads in flight against the store at once.</summary>
    public int MaxConcurrentFetches { get; init; } = 16;

    /// <summary>Threads that read requests from the kernel.</summary>
    public int Threads { get; init; } = 4;

    /// <summary>A ranged read that takes longer fails the algorithm's read with EIO instead of freezing it.</summary>
    public TimeSpan FetchTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the kernel may cache names and attributes (the objects do not change during a job).</summary>
    public TimeSpan AttributeTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long the kernel may take to send FUSE_INIT after mount(2).</summary>
    public TimeSpan InitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Serve files through the kernel's page cache (kernel read-ahead, cached re-reads) even where the
    /// kernel can bypass it and keep mmap working (Linux 6.6+), which is faster for large reads.
    /// </summary>
    public bool KernelPageCache { get; init; }

    /// <summary>The FUSE device (tests point it elsewhere to see the fallback).</summary>
    public string DevicePath { get; init; } = "/dev/fuse";

    /// <summary>Starts a watchdog process that lazily unmounts if this process dies without unmounting.</summary>
    public bool Watchdog { get; init; } = true;
}
