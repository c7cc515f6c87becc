using System.Globalization;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.DataPlane;

/// <summary>
/// File mode: copies each File channel's objects into <c>/opt/ml/input/data/&lt;channel&gt;/</c> before
/// training, in parallel, after checking that they fit the host's volume.
/// </summary>
public sealed class FileChannelLoader(
    IObjectStore store,
    HostPlan plan,
    Action<long, long, int, int> progress,
    Action<string> log)
{
    /// <summary>
    /// Objects copied at once by default: twice the S3 store's default request slots, so objects whose bytes
    /// have all landed but whose MD5 check is still running do not leave request slots idle.
    /// </summary>
    public static int DefaultParallelism { get; } = Math.Max(16, Environment.ProcessorCount * 8);

    /// <summary>How many objects are copied at once.</summary>
    public int Parallelism { get; init; } = DefaultParallelism;

    /// <summary>FastFile channels already mounted: not copied.</summary>
    public IReadOnlySet<string> MountedChannels { get; init; } = new HashSet<string>();

    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        // FastFile channels that could not be mounted (no FUSE here) are delivered as File mode.
        var fileChannels = plan.Channels.Where(c => c.InputMode == "File" || (c.InputMode == "FastFile" && !MountedChannels.Contains(c.Name))).ToList();

        var work = new List<(ObjectInfo Info, string Path)>();
        foreach (var channel in fileChannels)
        {
            var root = Path.GetFullPath(Path.Combine(plan.HostDirectory, "input", "data", channel.Name));
            foreach (var o in channel.Objects)
            {
                ChannelResolver.EnsureInside(o.RelativePath, o.Info.Location);
                var destination = Path.GetFullPath(Path.Combine(root, o.RelativePath));
                if (!destination.StartsWith(root + "/", StringComparison.Ordinal))
                {
                    throw new DataPlaneException($"Refused {o.Info.Location}: it would be written outside the channel directory.");
                }

                work.Add((o.Info, destination));
            }
        }

        var total = work.Sum(w => w.Info.Size);
        if (total > plan.VolumeSizeBytes)
        {
            throw new DataPlaneException(string.Create(CultureInfo.InvariantCulture,
                $"The input data of {plan.HostName} ({Format(total)}) does not fit its volume (ResourceConfig.VolumeSizeInGB = {plan.VolumeSizeBytes >> 30} GiB). Increase VolumeSizeInGB or use Pipe or FastFile mode."));
        }

        var free = FreeBytes(plan.HostDirectory);
        if (free is { } f && total > f)
        {
            throw new DataPlaneException(string.Create(CultureInfo.InvariantCulture,
                $"The input data of {plan.HostName} ({Format(total)}) does not fit the free space of this machine's disk ({Format(f)}) at {plan.HostDirectory}."));
        }

        if (work.Count == 0)
        {
            return;
        }

        log(string.Create(CultureInfo.InvariantCulture, $"Downloading {work.Count} objects ({Format(total)}) for {fileChannels.Count} File channel(s)."));
        long done = 0;
        var count = 0;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();

        // Bytes are reported as they land (the S3 store reports ranges as they arrive).
        var bytes = new Progress(delta => progress(Interlocked.Add(ref done, delta), total, Volatile.Read(ref count), work.Count));
        await ParallelDownloader.DownloadManyAsync(store, work, Parallelism, bytes, cancellationToken, downloaded: _ =>
        {
            var n = Interlocked.Increment(ref count);
            progress(Volatile.Read(ref done), total, n, work.Count);
        }).ConfigureAwait(false);

        var seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
        log(string.Create(CultureInfo.InvariantCulture, $"Downloaded {work.Count} objects ({Format(total)}) in {seconds:F2} s ({Format((long)(total / Math.Max(seconds, 1e-3)))}/s)."));
    }

    /// <summary>Reports increments on the calling thread (IProgress's default posts to the pool).</summary>
    private sealed class Progress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    private static long? FreeBytes(string path)
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F2} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
