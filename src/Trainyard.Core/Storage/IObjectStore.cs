namespace Trainyard.Storage;

/// <summary>
/// Where bytes live: the local directory (embedded default) or S3. Implementations list in key order,
/// stream reads with bounded memory, and make every upload all-or-nothing: a reader never sees a
/// partial object.
/// </summary>
public interface IObjectStore
{
    /// <summary>The name configuration selects this store by (<c>local</c>, <c>s3</c>).</summary>
    string Name { get; }

    /// <summary>Where the store keeps its objects, for messages (<c>the directory /x</c>, <c>S3 at https://…</c>).</summary>
    string Where => Name;

    /// <summary>Every object whose key starts with <paramref name="prefix"/>'s key, in key order.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Whether any object's key starts with <paramref name="prefix"/>'s key. Stores that can answer it with one
    /// small request do (S3: a listing of one key, where a full page of 1,000 costs the server far more).
    /// </summary>
    async Task<bool> AnyAsync(S3Location prefix, CancellationToken cancellationToken)
    {
        await foreach (var _ in ListAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        return false;
    }

    /// <summary>The object's metadata, or null when there is no such object.</summary>
    Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken);

    /// <summary>Opens the object for reading from <paramref name="offset"/> (a ranged read).</summary>
    /// <exception cref="ObjectStoreException">The object does not exist or cannot be read.</exception>
    Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken);

    /// <summary>
    /// Announces that <paramref name="objects"/> are about to be downloaded together, so the store can share
    /// its requests out by size (S3: eight equal objects get one GET each instead of the first few being
    /// cut into ranges while the rest wait). Dispose it when the batch is over. Optional: stores that have
    /// nothing to plan return a no-op.
    /// </summary>
    IDisposable PlanDownloads(IReadOnlyCollection<ObjectInfo> objects) => NoDownloadPlan.Instance;

    /// <summary>Copies the object to a local file, as fast as the store allows.</summary>
    Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken);

    /// <summary>
    /// Creates or replaces the object with what <paramref name="write"/> writes into the stream it is
    /// given. The object appears only when <paramref name="write"/> completes; if it throws or is
    /// cancelled, nothing is left behind.
    /// </summary>
    Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken);

    /// <summary>Deletes the object if it exists.</summary>
    Task DeleteAsync(S3Location location, CancellationToken cancellationToken);
}

/// <summary>The plan of a store that has nothing to plan.</summary>
internal sealed class NoDownloadPlan : IDisposable
{
    public static readonly NoDownloadPlan Instance = new();

    public void Dispose()
    {
    }
}
