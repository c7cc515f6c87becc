namespace Trainyard.Storage;

/// <summary>
/// Sends <c>file://</c> locations to the local file system and everything else to the configured store
/// (S3), so a job can read local data and write to S3, as SageMaker's local mode allows.
/// </summary>
public sealed class RoutingObjectStore(IObjectStore remote, LocalObjectStore files) : IObjectStore
{
    public string Name => remote.Name;

    public string Where => remote.Where;

    public IObjectStore Remote => remote;

    public LocalObjectStore Files => files;

    private IObjectStore For(S3Location location) => location.IsFile ? files : remote;

    public IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, CancellationToken cancellationToken) => For(prefix).ListAsync(prefix, cancellationToken);

    public Task<bool> AnyAsync(S3Location prefix, CancellationToken cancellationToken) => For(prefix).AnyAsync(prefix, cancellationToken);

    public Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken) => For(location).HeadAsync(location, cancellationToken);

    public Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken) =>
        For(location).OpenReadAsync(location, offset, length, cancellationToken);

    public IDisposable PlanDownloads(IReadOnlyCollection<ObjectInfo> objects)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var remoteObjects = objects.Where(o => !o.Location.IsFile).ToList();
        return remoteObjects.Count == 0 ? NoDownloadPlan.Instance : remote.PlanDownloads(remoteObjects);
    }

    public Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken) =>
        For(source.Location).DownloadAsync(source, destinationPath, progress, cancellationToken);

    public Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken) =>
        For(location).UploadAsync(location, write, cancellationToken);

    public Task DeleteAsync(S3Location location, CancellationToken cancellationToken) => For(location).DeleteAsync(location, cancellationToken);
}
