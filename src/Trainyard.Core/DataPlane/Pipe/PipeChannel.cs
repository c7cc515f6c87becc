using System.Globalization;
using Microsoft.Extensions.Logging;
using Trainyard.Interop;
using Trainyard.Storage;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// SageMaker Pipe mode for one channel on one host: serves the FIFOs <c>&lt;dataDir&gt;/&lt;channel&gt;_0</c>,
/// <c>_1</c>, … — one pass over the channel's objects each — for as many passes as the algorithm opens.
/// </summary>
/// <remarks>
/// Epoch <c>n+1</c>'s FIFO is created before epoch <c>n</c>'s write end is closed, so a reader that sees EOF
/// can open the next one at once. Each FIFO is unlinked just before its write end closes, so only the current (and at the
/// boundary, the next) FIFO exists; leftovers from a host that died are removed at start.
/// </remarks>
public static partial class PipeChannel
{
    /// <summary>The pipe buffer asked for with F_SETPIPE_SZ.</summary>
    public const int PipeBufferSize = 1 << 20;

    /// <summary>Bytes per queued chunk between the reading side and the FIFO writer.</summary>
    internal const int ChunkSize = 1 << 20;

    /// <summary>Chunks (or open local files) read ahead of the FIFO writer.</summary>
    internal const int ReadAheadChunks = 8;

    /// <summary>
    /// Serves <c>&lt;dataDir&gt;/&lt;channel&gt;_0</c>, <c>_1</c>, … until cancelled; on cancellation it unblocks
    /// any pending open, removes its FIFOs and returns normally.
    /// </summary>
    /// <param name="store">Where the objects (and augmented-manifest references) are read from.</param>
    /// <param name="objects">This host's share of the channel, in key order (the whole channel when
    /// <see cref="PipeChannelOptions.Shard"/> is set); for <c>AugmentedManifestFile</c>, the manifest objects.</param>
    /// <param name="dataDir">The host's <c>/opt/ml/input/data</c>.</param>
    /// <param name="options">The channel's settings.</param>
    /// <param name="logger">Progress and diagnostics.</param>
    /// <param name="cancellationToken">Stops serving (the job ends or is stopped).</param>
    /// <exception cref="PipeChannelException">The data cannot be streamed; the message names the object and line.</exception>
    public static async Task RunAsync(
        IObjectStore store,
        IReadOnlyList<ObjectInfo> objects,
        string dataDir,
        PipeChannelOptions options,
        ILogger logger,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(dataDir);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        Validate(options);

        Directory.CreateDirectory(dataDir);
        RemoveStaleFifos(dataDir, options.ChannelName, logger);
        var source = new PipeSource(store, objects, options);
        var epoch = 0;
        var path = FifoPath(dataDir, options.ChannelName, epoch);
        CreateFifo(path);
        try
        {
            while (true)
            {
                PipeLog.FifoReady(logger, options.ChannelName, epoch, path);
                var fd = await OpenForWritingAsync(path, cancellationToken).ConfigureAwait(false);
                try
                {
                    ConfigurePipe(fd, options.ChannelName, logger);
                    var started = Environment.TickCount64;
                    var (bytes, readerClosed) = await RunEpochAsync(fd, source, epoch, options.ChannelName, logger, cancellationToken).ConfigureAwait(false);
                    if (readerClosed)
                    {
                        PipeLog.ReaderClosedEarly(logger, options.ChannelName, epoch, bytes);
                    }
                    else
                    {
                        PipeLog.EpochCompleted(logger, options.ChannelName, epoch, bytes, (Environment.TickCount64 - started) / 1000.0);
                    }

                    // The next pass exists before this one's reader can see EOF.
                    CreateFifo(FifoPath(dataDir, options.ChannelName, epoch + 1));
                }
                finally
                {
                    // Unlinked before the write end closes: a reader that sees EOF finds only the next pass.
                    File.Delete(path);
                    _ = Libc.Close(fd);
                }

                epoch++;
                path = FifoPath(dataDir, options.ChannelName, epoch);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            PipeLog.Stopped(logger, options.ChannelName, epoch);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The FIFO of one epoch.</summary>
    public static string FifoPath(string dataDir, string channelName, int epoch) =>
        Path.Combine(dataDir, channelName + "_" + epoch.ToString(CultureInfo.InvariantCulture));

    private static void Validate(PipeChannelOptions options)
    {
        if (string.IsNullOrEmpty(options.ChannelName) || options.ChannelName.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"Invalid channel name '{options.ChannelName}'.", nameof(options));
        }

        if (options.CompressionType is not ("None" or "Gzip"))
        {
            throw new ArgumentException($"Channel '{options.ChannelName}': CompressionType '{options.CompressionType}' is not None or Gzip.", nameof(options));
        }

        if (options.RecordWrapperType is not ("None" or "RecordIO"))
        {
            throw new ArgumentException($"Channel '{options.ChannelName}': RecordWrapperType '{options.RecordWrapperType}' is not None or RecordIO.", nameof(options));
        }

        if (options.S3DataType is not ("S3Prefix" or "ManifestFile" or "AugmentedManifestFile"))
        {
            throw new ArgumentException($"Channel '{options.ChannelName}': S3DataType '{options.S3DataType}' is not S3Prefix, ManifestFile or AugmentedManifestFile.", nameof(options));
        }

        if (options.Shard is { } shard && (shard.HostCount < 1 || shard.HostIndex < 0 || shard.HostIndex >= shard.HostCount))
        {
            throw new ArgumentException($"Channel '{options.ChannelName}': host {shard.HostIndex} of {shard.HostCount} is not a valid shard.", nameof(options));
        }

        if (options.IsAugmentedManifest && (options.AttributeNames is null || options.AttributeNames.Count == 0))
        {
            throw new ArgumentException($"Channel '{options.ChannelName}': AugmentedManifestFile needs AttributeNames.", nameof(options));
        }
    }

    private static void RemoveStaleFifos(string dataDir, string channelName, ILogger logger)
    {
        foreach (var file in Directory.EnumerateFiles(dataDir, channelName + "_*"))
        {
            var suffix = Path.GetFileName(file)[(channelName.Length + 1)..];
            if (suffix.Length > 0 && suffix.All(char.IsAsciiDigit))
            {
                File.Delete(file);
                PipeLog.RemovedStale(logger, channelName, file);
            }
        }
    }

    private static void CreateFifo(string path)
    {
        // Stale FIFOs were removed at start and each epoch's is removed as it ends, so EEXIST means something
        // else owns the name (say a File-mode channel called "<channel>_1"): fail rather than write into it.
        if (Libc.MkFifo(path, 0b110_100_100) != 0)
        {
            throw new IOException($"mkfifo {path} failed: {Libc.Describe(Libc.LastError)}");
        }
    }

    // Ask for a 1 MiB pipe; an unprivileged process over /proc/sys/fs/pipe-max-size gets EPERM, and then the
    // limit itself is the next best size. Whatever the kernel grants is fine: it only affects throughput.
    private static void ConfigurePipe(int fd, string channelName, ILogger logger)
    {
        if (Libc.Fcntl(fd, Libc.F_SETPIPE_SZ, PipeBufferSize) < 0 && TryReadPipeMaxSize() is { } max && max < PipeBufferSize)
        {
            _ = Libc.Fcntl(fd, Libc.F_SETPIPE_SZ, max);
        }

        PipeLog.PipeSize(logger, channelName, Libc.Fcntl(fd, Libc.F_GETPIPE_SZ, 0), PipeBufferSize);
        var flags = Libc.Fcntl(fd, Libc.F_GETFL, 0);
        if (flags < 0 || Libc.Fcntl(fd, Libc.F_SETFL, flags | Libc.O_NONBLOCK) < 0)
        {
            throw new IOException($"fcntl on FIFO failed: {Libc.Describe(Libc.LastError)}");
        }
    }

    private static int? TryReadPipeMaxSize()
    {
        try
        {
            return int.TryParse(File.ReadAllText("/proc/sys/fs/pipe-max-size").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var max) ? max : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Opens the FIFO for writing, which blocks until a reader opens it: on a dedicated thread, so no pool
    /// thread waits. Cancellation opens the FIFO for reading itself (O_NONBLOCK) to release the open.
    /// </summary>
    private static Task<int> OpenForWritingAsync(string path, CancellationToken cancellationToken)
    {
        var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);

        // An O_PATH handle reaches the FIFO even if its name is removed meanwhile, so cancellation can
        // always open it for reading through /proc/self/fd and release the blocked open.
        var pathFd = Libc.Open(path, Libc.O_PATH | Libc.O_CLOEXEC, 0);
        var releasePath = pathFd >= 0 ? "/proc/self/fd/" + pathFd.ToString(CultureInfo.InvariantCulture) : path;
        var thread = new Thread(() =>
        {
            var gate = new object();
            var opened = false;
            var releaseFd = -1;
            var registration = cancellationToken.Register(() =>
            {
                lock (gate)
                {
                    if (!opened)
                    {
                        releaseFd = Libc.Open(releasePath, Libc.O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC, 0);
                    }
                }
            });
            int fd;
            int errno;
            do
            {
                fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CLOEXEC, 0);
                errno = fd < 0 ? Libc.LastError : 0;
            }
            while (fd < 0 && errno == Libc.EINTR && !cancellationToken.IsCancellationRequested);

            lock (gate)
            {
                opened = true;
            }

            registration.Dispose();
            if (releaseFd >= 0)
            {
                _ = Libc.Close(releaseFd);
            }

            if (pathFd >= 0)
            {
                _ = Libc.Close(pathFd);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                if (fd >= 0)
                {
                    _ = Libc.Close(fd);
                }

                result.SetCanceled(cancellationToken);
            }
            else if (fd < 0)
            {
                result.SetException(new IOException($"open {path} for writing failed: {Libc.Describe(errno)}"));
            }
            else
            {
                result.SetResult(fd);
            }
        })
        {
            IsBackground = true,
            Name = "pipe-open " + Path.GetFileName(path),
        };
        thread.Start();
        return result.Task;
    }
}
