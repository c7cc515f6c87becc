namespace Trainyard.Storage;

/// <summary>
/// Downloads many objects from any <see cref="IObjectStore"/> at once, with a bounded degree of
/// parallelism. Each store still bounds its own requests (the S3 store splits large objects into
/// ranges under one store-wide limit), so this degree only decides how many objects are open at once.
/// </summary>
public static class ParallelDownloader
{
    /// <summary>
    /// Downloads every <c>(Source, Path)</c> pair, creating parent directories, largest objects first so
    /// a big one does not start last and leave the other workers idle. Fails with the first error after
    /// cancelling the rest.
    /// </summary>
    /// <param name="store">The store the objects are in.</param>
    /// <param name="items">The objects and the file each one goes to.</param>
    /// <param name="maxDegreeOfParallelism">Objects downloading at once.</param>
    /// <param name="progress">Receives byte counts as they land (from several threads).</param>
    /// <param name="cancellationToken">Stops every download.</param>
    /// <param name="downloaded">Called as each object is complete (from several threads).</param>
    /// <returns>The total number of bytes downloaded.</returns>
    public static async Task<long> DownloadManyAsync(
        IObjectStore store,
        IReadOnlyList<(ObjectInfo Source, string Path)> items,
        int maxDegreeOfParallelism,
        IProgress<long>? progress,
        CancellationToken cancellationToken,
        Action<ObjectInfo>? downloaded = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);

        var ordered = items.OrderByDescending(i => i.Source.Size).ToList();
        foreach (var directory in ordered.Select(i => Path.GetDirectoryName(Path.GetFullPath(i.Path))).Distinct(StringComparer.Ordinal))
        {
            if (directory is not null)
            {
                Directory.CreateDirectory(directory);
            }
        }

        using var batch = store.PlanDownloads(ordered.Select(i => i.Source).ToList());
        await Parallel.ForEachAsync(
            ordered,
            new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, CancellationToken = cancellationToken },
            async (item, ct) =>
            {
                await store.DownloadAsync(item.Source, item.Path, progress, ct).ConfigureAwait(false);
                downloaded?.Invoke(item.Source);
            }).ConfigureAwait(false);
        return ordered.Sum(i => i.Source.Size);
    }
}
