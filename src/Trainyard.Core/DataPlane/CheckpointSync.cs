using System.Globalization;
using Trainyard.Storage;

namespace Trainyard.DataPlane;

/// <summary>
/// CheckpointConfig: checkpoints already under <c>S3Uri</c> are restored into the host before training;
/// files the algorithm writes to the local checkpoint directory are uploaded while it trains (new and
/// changed files, once they have stopped changing for one scan) and once more when it ends — also after
/// a stop or a time-out. Remote checkpoints are never deleted.
/// </summary>
public sealed class CheckpointSync(IObjectStore store, S3Location remote, string localDirectory, Action<string> log)
{
    private readonly Dictionary<string, (long Length, DateTime Modified)> _uploaded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Length, DateTime Modified)> _seen = new(StringComparer.Ordinal);

    /// <summary>How often the directory is scanned while the algorithm trains.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    public async Task RestoreAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(localDirectory);
        var count = 0;
        long bytes = 0;
        await foreach (var info in store.ListAsync(remote, cancellationToken).ConfigureAwait(false))
        {
            if (info.Location.Key.EndsWith('/'))
            {
                continue;
            }

            var relative = ChannelResolver.RelativePath(remote.Key.EndsWith('/') || remote.Key.Length == 0 ? remote : remote with { Key = remote.Key + "/" }, info.Location);
            ChannelResolver.EnsureInside(relative, info.Location);
            var path = Path.Combine(localDirectory, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await store.DownloadAsync(info, path, null, cancellationToken).ConfigureAwait(false);
            var fi = new FileInfo(path);
            _uploaded[relative] = (fi.Length, fi.LastWriteTimeUtc);
            count++;
            bytes += info.Size;
        }

        if (count > 0)
        {
            log(string.Create(CultureInfo.InvariantCulture, $"Restored {count} checkpoint files ({FileChannelLoader.Format(bytes)}) from {remote}."));
        }
    }

    /// <summary>Uploads changed files every <see cref="Interval"/> until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await SyncAsync(stableOnly: true, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Uploads every new or changed file now (the final sync).</summary>
    public Task FinalSyncAsync() => SyncAsync(stableOnly: false, CancellationToken.None);

    private async Task SyncAsync(bool stableOnly, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(localDirectory))
        {
            return;
        }

        foreach (var path in Directory.EnumerateFiles(localDirectory, "*", SearchOption.AllDirectories))
        {
            FileInfo fi;
            try
            {
                fi = new FileInfo(path);
                if (fi.LinkTarget is not null)
                {
                    continue;
                }
            }
            catch (IOException)
            {
                continue;
            }

            var relative = Path.GetRelativePath(localDirectory, path).Replace('\\', '/');
            var state = (fi.Length, fi.LastWriteTimeUtc);
            if (_uploaded.TryGetValue(relative, out var done) && done == state)
            {
                continue;
            }

            // While training, a file is uploaded once it looks the same in two scans in a row.
            var previous = _seen.TryGetValue(relative, out var p) ? p : default;
            _seen[relative] = state;
            if (stableOnly && previous != state)
            {
                continue;
            }

            try
            {
                await store.UploadAsync(remote.Append(relative), async (stream, ct) =>
                {
                    await using var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    await source.CopyToAsync(stream, 1 << 20, ct).ConfigureAwait(false);
                }, cancellationToken).ConfigureAwait(false);
                _uploaded[relative] = state;
            }
            catch (Exception e) when (e is IOException or ObjectStoreException)
            {
                log($"Checkpoint {relative} was not uploaded to {remote.Append(relative)}: {e.Message}");
            }
        }
    }
}
