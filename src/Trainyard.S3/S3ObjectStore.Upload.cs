using Trainyard.Storage;

namespace Trainyard.S3;

public sealed partial class S3ObjectStore
{
    private long _multipartParts;

    /// <summary>Multipart-upload parts this store has completed, for diagnostics and tests.</summary>
    internal long MultipartPartsUploaded => Interlocked.Read(ref _multipartParts);

    /// <summary>
    /// Streams what <paramref name="write"/> writes into a multipart upload (parts of
    /// <see cref="S3ObjectStoreOptions.PartSize"/>, up to <see cref="S3ObjectStoreOptions.Concurrency"/>
    /// uploading at once, each retried), or one PutObject when it writes less than a part. If
    /// <paramref name="write"/> throws or the upload is cancelled, the multipart upload is aborted and no
    /// object appears.
    /// </summary>
    /// <returns>The number of bytes uploaded.</returns>
    public async Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(write);
        RequireBucket(location);
        var stream = new S3UploadStream(_dataClient, location, Options, _retry, _requestSlots, _partPool, cancellationToken);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                var length = await stream.CompleteAsync(cancellationToken).ConfigureAwait(false);
                Interlocked.Add(ref _multipartParts, stream.PartsUploaded);
                return length;
            }
            catch
            {
                await stream.AbortAsync().ConfigureAwait(false);
                throw;
            }
        }
    }
}
