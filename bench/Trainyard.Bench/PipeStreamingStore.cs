using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>The local store behind a type the pipe cannot splice from, to measure the streaming (S3-like) path.</summary>
internal sealed class StreamingStore(LocalObjectStore inner) : IObjectStore
{
    public string Name => "streaming";

    public IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

    public Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken) => inner.HeadAsync(location, cancellationToken);

    public Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken) => inner.OpenReadAsync(location, offset, length, cancellationToken);

    public Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken) => inner.DownloadAsync(source, destinationPath, progress, cancellationToken);

    public Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken) => inner.UploadAsync(location, write, cancellationToken);

    public Task DeleteAsync(S3Location location, CancellationToken cancellationToken) => inner.DeleteAsync(location, cancellationToken);
}
