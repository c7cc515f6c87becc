using System.IO.Compression;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.DataPlane.Pipe;
using Trainyard.Storage;

namespace Trainyard.Tests.DataPlane.Pipe;

/// <summary>A local store, a host data directory and a running <see cref="PipeChannel"/>, all under one temp directory.</summary>
internal sealed class PipeTestBed : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _deadline = new(Deadline);

    public PipeTestBed()
    {
        Root = Directory.CreateTempSubdirectory("trainyard-pipe-").FullName;
        Store = new LocalObjectStore(Path.Combine(Root, "store"));
        DataDir = Path.Combine(Root, "data");
        Directory.CreateDirectory(Path.Combine(Store.Root, "bucket"));
    }

    public string Root { get; }

    public LocalObjectStore Store { get; }

    public string DataDir { get; }

    public Task? Running { get; private set; }

    public CancellationToken Timeout => _deadline.Token;

    public ObjectInfo Put(string key, byte[] content, bool gzip = false)
    {
        var location = new S3Location("bucket", key);
        var path = Store.PathOf(location);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (gzip)
        {
            using var file = File.Create(path);
            using var zip = new GZipStream(file, CompressionLevel.Fastest);
            zip.Write(content);
        }
        else
        {
            File.WriteAllBytes(path, content);
        }

        return new ObjectInfo(location, new FileInfo(path).Length, DateTimeOffset.UtcNow);
    }

    public void Start(IReadOnlyList<ObjectInfo> objects, PipeChannelOptions options, IObjectStore? store = null)
    {
        Running = Task.Run(() => PipeChannel.RunAsync(store ?? Store, objects, DataDir, options, NullLogger.Instance, _stop.Token));
    }

    public string Fifo(string channel, int epoch) => PipeChannel.FifoPath(DataDir, channel, epoch);

    /// <summary>Waits for the FIFO to appear (polling with a deadline) and opens it for reading.</summary>
    public async Task<FileStream> OpenAsync(string channel, int epoch)
    {
        var path = Fifo(channel, epoch);
        while (!File.Exists(path))
        {
            if (Running is { IsCompleted: true })
            {
                await Running; // surfaces the channel's failure instead of a timeout
                throw new InvalidOperationException("The channel stopped before creating " + path);
            }

            await Task.Delay(5, Timeout);
        }

        // Opening a FIFO for reading blocks until the writer opens it; keep that off the test thread.
        return await Task.Run(() => new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0), Timeout);
    }

    /// <summary>Waits until a FIFO opener thread of this process sleeps in the kernel waiting for a reader.</summary>
    public async Task WaitForWriterBlockedInOpenAsync()
    {
        while (!Directory.EnumerateDirectories("/proc/self/task").Any(task =>
            TryRead(Path.Combine(task, "comm")).StartsWith("pipe-open", StringComparison.Ordinal) &&
            TryRead(Path.Combine(task, "wchan")) == "wait_for_partner"))
        {
            await Task.Delay(5, Timeout);
        }

        static string TryRead(string path)
        {
            try
            {
                return File.ReadAllText(path).Trim();
            }
            catch (IOException)
            {
                return "";
            }
        }
    }

    public async Task<byte[]> ReadEpochAsync(string channel, int epoch)
    {
        await using var fifo = await OpenAsync(channel, epoch);
        using var content = new MemoryStream();
        await fifo.CopyToAsync(content, Timeout);
        return content.ToArray();
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (Running is not null)
        {
            await Running.WaitAsync(Timeout);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _stop.CancelAsync();
            if (Running is not null)
            {
                await Running.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
        finally
        {
            _stop.Dispose();
            _deadline.Dispose();
            Directory.Delete(Root, recursive: true);
        }
    }
}
