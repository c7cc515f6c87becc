using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using Trainyard.Hosts;
using Trainyard.Interop;
using Trainyard.Storage;

namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// FastFile input mode: a read-only FUSE file system that shows a channel's objects as files with their
/// real sizes and times and fetches their bytes on demand with ranged reads from an
/// <see cref="IObjectStore"/>, with read-ahead for sequential readers and a bounded block cache.
/// </summary>
/// <remarks>
/// <para>How FUSE is reached: this class speaks the kernel's FUSE protocol on <c>/dev/fuse</c> itself
/// (open the device, <c>mount(2)</c> with <c>fd=N</c>, then read requests from and write replies to the
/// device through P/Invoke into libc). No libfuse, no native helper to build: a read-only file system
/// whose tree lives in memory needs about a dozen opcodes, and owning the loop lets replies be written
/// straight from cached blocks with <c>writev</c>, and shutdown be a flag and a <c>close</c>.</para>
/// <para>No mount is left behind: <see cref="DisposeAsync"/> detaches the mount and closes the device
/// (which aborts the connection, so nothing that still holds a file can hang). If this process dies
/// without disposing (SIGKILL), the kernel closes the device, which aborts the connection (readers get
/// ENOTCONN, never a hang), and a watchdog process — a shell in a session of its own blocked reading a
/// pipe from this process — sees the pipe close and lazily unmounts the mount point. Inside a
/// bubblewrap sandbox the mount lives in the sandbox's mount namespace as a copy, which dies with it.</para>
/// </remarks>
public sealed partial class FastFileMount : IAsyncDisposable
{
    private readonly IObjectStore _store;
    private readonly FileTree _tree;
    private readonly FastFileOptions _options;
    private readonly ILogger _logger;
    private readonly SafeFileHandle _device;
    private readonly int _fd;
    private readonly BlockCache _cache;
    private readonly BlockPool _pool;
    private readonly SemaphoreSlim _fetches;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<ulong, OpenFile> _handles = new();
    private readonly ConcurrentDictionary<ulong, CancellationTokenSource> _pending = new();
    private readonly List<Thread> _threads = [];
    private readonly uint _uid = Libc.GetEuid();
    private readonly uint _gid = Libc.GetEgid();
    private MountWatchdog? _watchdog;
    private long _nextHandle;
    private int _errorsLogged;
    private volatile bool _stopping;
    private bool _directIo;
    private int _disposed;

    private FastFileMount(IObjectStore store, FileTree tree, string mountPoint, FastFileOptions options, ILogger logger, SafeFileHandle device)
    {
        _store = store;
        _tree = tree;
        MountPoint = mountPoint;
        _options = options;
        _logger = logger;
        _device = device;
        _fd = (int)device.DangerousGetHandle();
        _cache = new BlockCache(options.CacheBytes);
        _pool = new BlockPool(options.BlockSize, (int)(options.CacheBytes / options.BlockSize) + 64);
        _fetches = new SemaphoreSlim(options.MaxConcurrentFetches);
    }

    /// <summary>Where the file system is mounted.</summary>
    public string MountPoint { get; }

    /// <summary>How many files the mount shows.</summary>
    public int FileCount => _tree.FileCount;

    /// <summary>The sum of the sizes of the files the mount shows.</summary>
    public long TotalBytes => _tree.TotalBytes;

    /// <summary>
    /// Mounts a read-only view of <paramref name="objects"/> (each at its RelativePath) at
    /// <paramref name="mountPoint"/> and returns once the kernel has initialised the file system.
    /// </summary>
    /// <exception cref="FastFileUnavailableException">FUSE cannot be used here; deliver the channel as File mode.</exception>
    /// <exception cref="DataPlaneException">An object's path would lie outside the mount.</exception>
    public static async Task<FastFileMount> MountAsync(IObjectStore store, IReadOnlyList<ChannelObject> objects, string mountPoint,
        FastFileOptions options, ILogger logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(options);
        if (Environment.GetEnvironmentVariable("TRAINYARD_NO_FUSE") == "1")
        {
            throw new FastFileUnavailableException("FUSE is disabled (TRAINYARD_NO_FUSE=1).");
        }

        var tree = FileTree.Build(objects);
        foreach (var skipped in tree.Skipped.Take(10))
        {
            Log.Skipped(logger, skipped);
        }

        mountPoint = Path.GetFullPath(mountPoint);
        if (MountInfo.MountPointsOfType("fuse.trainyard").Contains(mountPoint))
        {
            // a dead mount of a killed process at the same place (its connection aborted): replace it
            Libc.Umount2(mountPoint, Libc.MNT_DETACH);
        }

        Directory.CreateDirectory(mountPoint);
        var fd = Libc.Open(options.DevicePath, Libc.O_RDWR | Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (fd < 0)
        {
            var errno = Libc.LastError;
            throw new FastFileUnavailableException($"cannot open {options.DevicePath}: {Libc.Describe(errno)}");
        }

        var device = new SafeFileHandle(fd, ownsHandle: true);
        var data = string.Create(CultureInfo.InvariantCulture,
            $"fd={fd},rootmode=40000,user_id={Libc.GetEuid()},group_id={Libc.GetEgid()},default_permissions,allow_other,max_read={MaxRead}");
        if (Libc.Mount("trainyard", mountPoint, "fuse.trainyard", Libc.MS_RDONLY | Libc.MS_NOSUID | Libc.MS_NODEV, data) != 0)
        {
            var errno = Libc.LastError;
            device.Dispose();
            throw new FastFileUnavailableException($"cannot mount a FUSE file system at {mountPoint}: {Libc.Describe(errno)}");
        }

        var mount = new FastFileMount(store, tree, mountPoint, options, logger, device);
        try
        {
            // The watchdog first: from here on, this process dying must not leave the mount behind.
            if (options.Watchdog)
            {
                mount._watchdog = MountWatchdog.Start(mountPoint);
            }

            mount.Start();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(options.InitTimeout);
            try
            {
                await mount._initialized.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new FastFileUnavailableException($"the kernel did not initialise the FUSE file system at {mountPoint} within {options.InitTimeout.TotalSeconds} s");
            }

            mount.TuneReadAhead();

            Log.Mounted(logger, mountPoint, tree.FileCount, tree.TotalBytes);
            return mount;
        }
        catch
        {
            await mount.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Start()
    {
        for (var i = 0; i < Math.Max(1, _options.Threads); i++)
        {
            var thread = new Thread(ServeLoop) { IsBackground = true, Name = "fastfile-" + i.ToString(CultureInfo.InvariantCulture) };
            _threads.Add(thread);
            thread.Start();
        }
    }

    /// <summary>
    /// Raises the kernel's read-ahead for this mount (its backing device is named after the mount's
    /// device number) so that sequential readers ask for large ranges.
    /// </summary>
    private void TuneReadAhead()
    {
        try
        {
            var device = MountInfo.DeviceOf(MountPoint);
            if (device is not null)
            {
                File.WriteAllText($"/sys/class/bdi/{device}/read_ahead_kb", ((long)_options.BlockSize * 4 / 1024).ToString(CultureInfo.InvariantCulture));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // the kernel's default read-ahead still works, only in smaller steps
        }
    }

    /// <summary>Unmounts (lazily, so a process that still holds a file gets errors, never a hang) and stops serving.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Libc.Umount2(MountPoint, Libc.MNT_DETACH) != 0)
        {
            var errno = Libc.LastError;
            if (errno != Libc.EINVAL && errno != Libc.ENOENT)
            {
                Log.UnmountFailed(_logger, MountPoint, Libc.Describe(errno));
            }
        }

        _stopping = true;
        await _lifetime.CancelAsync().ConfigureAwait(false);
        foreach (var thread in _threads)
        {
            // each thread polls with a short timeout and leaves when it sees _stopping
            await Task.Run(() => thread.Join(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }

        // Closing the last descriptor of the device aborts the connection: anything still waiting on
        // the (detached) file system gets ENOTCONN.
        _device.Dispose();
        _watchdog?.Dismiss();

        // _lifetime stays undisposed (only cancelled): fetches still finishing may read its token.
        Log.Unmounted(_logger, MountPoint);
    }

    /// <summary>
    /// Lazily unmounts every FastFile mount below <paramref name="directory"/>: those of hosts whose
    /// server died with its watchdog (a whole process group or cgroup killed at once). Their
    /// connections are already aborted (readers get ENOTCONN); this removes the mount entries.
    /// </summary>
    public static int UnmountStale(string directory, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var root = Path.GetFullPath(directory).TrimEnd('/') + "/";
        var count = 0;
        foreach (var mountPoint in MountInfo.MountPointsOfType("fuse.trainyard").Where(p => p.StartsWith(root, StringComparison.Ordinal)))
        {
            if (Libc.Umount2(mountPoint, Libc.MNT_DETACH) == 0)
            {
                Log.Unmounted(logger, mountPoint);
                count++;
            }
        }

        return count;
    }

    /// <summary>Reads the largest request and reply this mount negotiates (1 MiB, the kernel's limit of 256 pages).</summary>
    internal const int MaxRead = 1 << 20;

    private sealed class OpenFile(int node)
    {
        public int Node { get; } = node;
        public long NextOffset { get; set; }
        public long ReadAheadUntil { get; set; }
    }
}
