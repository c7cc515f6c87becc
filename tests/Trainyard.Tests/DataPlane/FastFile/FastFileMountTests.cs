using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Trainyard.DataPlane;
using Trainyard.DataPlane.FastFile;
using Trainyard.Hosts;
using Trainyard.Storage;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.DataPlane.FastFile;

/// <summary>FastFile mounts for real (the kernel's FUSE, /dev/fuse) over the local object store.</summary>
public sealed class FastFileMountTests
{
    private static readonly FastFileOptions Options = new() { Watchdog = false };

    /// <summary>Objects of many shapes under s3://data/train/ in a local store; returns the channel's objects.</summary>
    private static async Task<List<ChannelObject>> SeedAsync(LocalObjectStore store, string root)
    {
        var rng = new Random(42);
        var sizes = new Dictionary<string, int>
        {
            ["empty.bin"] = 0,
            ["one.bin"] = 1,
            ["page.bin"] = 4095,
            ["a/b/c/deep.csv"] = 70_000,
            ["a/block-and-a-bit.bin"] = (1 << 20) + 3,
            ["a/five-mib.bin"] = (5 << 20) + 12345,
            ["with space/ünïcode name.txt"] = 333,
        };
        for (var i = 0; i < 50; i++)
        {
            sizes[$"many/part-{i:D3}.rec"] = rng.Next(0, 20_000);
        }

        foreach (var (key, size) in sizes)
        {
            var path = Path.Combine(root, "data", "train", key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var bytes = new byte[size];
            rng.NextBytes(bytes);
            await File.WriteAllBytesAsync(path, bytes);
            File.SetLastWriteTimeUtc(path, new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddMinutes(size % 1000));
        }

        var prefix = S3Location.Parse("s3://data/train/");
        var objects = new List<ChannelObject>();
        await foreach (var info in store.ListAsync(prefix, CancellationToken.None))
        {
            objects.Add(new ChannelObject(info, ChannelResolver.RelativePath(prefix, info.Location)));
        }

        return objects;
    }

    [Fact]
    public async Task Mount_LocalStore_PythonReaderSeesEveryFileAndByte()
    {
        using var dir = new TempDirectory("ff");
        var store = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(store, dir["store"]);
        var mountPoint = dir["mnt"];
        await using (var mount = await FastFileMount.MountAsync(store, objects, mountPoint, Options, NullLogger.Instance, CancellationToken.None))
        {
            Assert.NotNull(MountInfo.DeviceOf(mountPoint));
            var (code, output) = await PythonReader.RunAsync(PythonReader.Verify, TimeSpan.FromMinutes(2), mountPoint, dir["store/data/train"], "7");
            Assert.True(code == 0, output);
            Assert.Contains($"OK {objects.Count} files", output, StringComparison.Ordinal);
            Assert.Throws<IOException>(() => File.WriteAllText(Path.Combine(mountPoint, "new.txt"), "no"));
        }

        Assert.Null(MountInfo.DeviceOf(mountPoint));
        Assert.Empty(Directory.EnumerateFileSystemEntries(mountPoint));
    }

    [Fact]
    public async Task Mount_TinyCacheAndConcurrentReaders_EveryByteIsStillRight()
    {
        // Blocks are evicted while other readers hold them and while they are being fetched.
        using var dir = new TempDirectory("ff");
        var store = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(store, dir["store"]);
        var options = Options with { CacheBytes = 3 << 20, ReadAheadBlocks = 4, BlockSize = 256 << 10 };
        await using var mount = await FastFileMount.MountAsync(store, objects, dir["mnt"], options, NullLogger.Instance, CancellationToken.None);
        var readers = Enumerable.Range(1, 3).Select(seed => PythonReader.RunAsync(PythonReader.Verify, TimeSpan.FromMinutes(2), dir["mnt"], dir["store/data/train"], seed.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        foreach (var (code, output) in await Task.WhenAll(readers))
        {
            Assert.True(code == 0, output);
        }
    }

    [Fact]
    public async Task Mount_ShardOfTheObjects_ShowsOnlyThatShare()
    {
        using var dir = new TempDirectory("ff");
        var store = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(store, dir["store"]);
        var share = objects.Where((_, i) => i % 3 == 1).ToList(); // what ShardedByS3Key gives algo-2 of 3
        await using var mount = await FastFileMount.MountAsync(store, share, dir["mnt"], Options, NullLogger.Instance, CancellationToken.None);
        var shown = Directory.EnumerateFiles(dir["mnt"], "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(dir["mnt"], p)).Order(StringComparer.Ordinal);
        Assert.Equal(share.Select(o => o.RelativePath).Order(StringComparer.Ordinal), shown);
        foreach (var o in share)
        {
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dir["store/data/train"], o.RelativePath)), await File.ReadAllBytesAsync(Path.Combine(dir["mnt"], o.RelativePath)));
        }
    }

    [Fact]
    public async Task Read_ObjectDeletedAfterMount_ReaderGetsEioAndTheLogSaysSo()
    {
        using var dir = new TempDirectory("ff");
        var store = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(store, dir["store"]);
        var logger = new ListLogger();
        await using var mount = await FastFileMount.MountAsync(store, objects, dir["mnt"], Options, logger, CancellationToken.None);
        File.Delete(dir["store/data/train/a/five-mib.bin"]);
        var (code, output) = await PythonReader.RunAsync("""
import errno, sys
try:
    open(sys.argv[1], 'rb').read()
    print('read succeeded')
except OSError as e:
    print('errno', e.errno)
    sys.exit(0 if e.errno == errno.EIO else 1)
""", TimeSpan.FromSeconds(60), Path.Combine(dir["mnt"], "a", "five-mib.bin"));
        Assert.True(code == 0, output);
        Assert.Contains(logger.Lines, l => l.Contains("s3://data/train/a/five-mib.bin", StringComparison.Ordinal) && l.Contains("EIO", StringComparison.Ordinal));

        // The other files still read.
        Assert.Equal(await File.ReadAllBytesAsync(dir["store/data/train/page.bin"]), await File.ReadAllBytesAsync(Path.Combine(dir["mnt"], "page.bin")));
    }

    [Fact]
    public async Task Read_StoreUnreachable_ReaderGetsEioInsteadOfHanging()
    {
        using var dir = new TempDirectory("ff");
        var local = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(local, dir["store"]);
        var logger = new ListLogger();
        var options = Options with { FetchTimeout = TimeSpan.FromSeconds(1) };
        await using var mount = await FastFileMount.MountAsync(new UnreachableStore(local), objects, dir["mnt"], options, logger, CancellationToken.None);
        var (code, output) = await PythonReader.RunAsync("""
import errno, sys
try:
    open(sys.argv[1], 'rb').read()
    print('read succeeded')
except OSError as e:
    print('errno', e.errno)
    sys.exit(0 if e.errno == errno.EIO else 1)
""", TimeSpan.FromSeconds(30), Path.Combine(dir["mnt"], "one.bin"));
        Assert.True(code == 0, output);
        Assert.Contains(logger.Lines, l => l.Contains("did not finish within 1 s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mount_NoFuseDevice_ThrowsUnavailableAndLeavesNoMount()
    {
        using var dir = new TempDirectory("ff");
        var store = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(store, dir["store"]);
        var e = await Assert.ThrowsAsync<FastFileUnavailableException>(() =>
            FastFileMount.MountAsync(store, objects, dir["mnt"], Options with { DevicePath = dir["no-such-device"] }, NullLogger.Instance, CancellationToken.None));
        Assert.Contains("cannot open", e.Message, StringComparison.Ordinal);
        Assert.Null(MountInfo.DeviceOf(dir["mnt"]));
    }

    [Fact]
    public async Task Dispose_WhileAReaderHoldsAFile_LeavesNoMountAndTheReaderGetsAnErrorNotAHang()
    {
        using var dir = new TempDirectory("ff");
        var store = new LocalObjectStore(dir["store"]);
        var objects = await SeedAsync(store, dir["store"]);
        var mount = await FastFileMount.MountAsync(store, objects, dir["mnt"], Options, NullLogger.Instance, CancellationToken.None);
        var psi = new ProcessStartInfo(PythonReader.Python) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", "import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nos.pread(fd, 10, 0)\nprint('open', flush=True)\nsys.stdin.readline()\ntry:\n    os.pread(fd, 10, 3 << 20)\n    print('read')\nexcept OSError as e:\n    print('errno', e.errno)\n", Path.Combine(dir["mnt"], "a", "five-mib.bin") })
        {
            psi.ArgumentList.Add(a);
        }

        using var reader = Process.Start(psi)!;
        Assert.Equal("open", await reader.StandardOutput.ReadLineAsync());
        await mount.DisposeAsync();
        Assert.Null(MountInfo.DeviceOf(dir["mnt"]));
        await reader.StandardInput.WriteLineAsync("go");
        await reader.StandardInput.FlushAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var line = await reader.StandardOutput.ReadLineAsync(cts.Token);
        Assert.StartsWith("errno", line, StringComparison.Ordinal); // ENOTCONN: the connection was aborted
        await reader.WaitForExitAsync(cts.Token);
    }

    /// <summary>A store that never answers a read (an unreachable endpoint), but honours cancellation.</summary>
    private sealed class UnreachableStore(IObjectStore inner) : IObjectStore
    {
        public string Name => "unreachable";

        public IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken) => inner.HeadAsync(location, cancellationToken);

        public async Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task DeleteAsync(S3Location location, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private sealed class NullLogger : ILogger
    {
        public static readonly NullLogger Instance = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => false;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return _lines.ToList();
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add(formatter(state, exception));
            }
        }
    }
}
