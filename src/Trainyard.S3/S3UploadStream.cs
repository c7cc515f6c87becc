using System.Buffers;
using Amazon.S3;
using Amazon.S3.Model;
using Trainyard.Storage;
using S3Location = Trainyard.Storage.S3Location;

namespace Trainyard.S3;

/// <summary>
/// The write-only stream <see cref="S3ObjectStore.UploadAsync"/> hands its writer: bytes fill pooled
/// part buffers, full parts upload in the background (at most <c>maxPartsInFlight</c> at once, which
/// bounds memory and makes a fast writer wait), and nothing is visible in S3 until
/// <see cref="CompleteAsync"/>. A payload smaller than one part becomes a single PutObject.
/// </summary>
internal sealed class S3UploadStream : BlockBufferingStream
{
    private const int MaxParts = 10_000;

    private readonly IAmazonS3 _client;
    private readonly S3Location _location;
    private readonly S3ObjectStoreOptions _options;
    private readonly RetryPolicy _retry;
    private readonly SemaphoreSlim _requestSlots;
    private readonly SemaphoreSlim _partsInFlight;
    private readonly CancellationTokenSource _abort;
    private readonly List<Task<PartETag>> _parts = [];
    private int _partNumber;
    private string? _uploadId;

    // aws-chunked bodies (the SDK's default) are not understood by many S3-compatible servers, and
    // hashing every part for the signature costs a core; over TLS an unsigned payload is as safe.
    private readonly bool _unsignedPayload;

    public S3UploadStream(
        IAmazonS3 client, S3Location location, S3ObjectStoreOptions options, RetryPolicy retry, SemaphoreSlim requestSlots, ArrayPool<byte> pool, CancellationToken cancellationToken)
        : base(options.PartSize, pool)
    {
        _client = client;
        _location = location;
        _options = options;
        _retry = retry;
        _requestSlots = requestSlots;
        _partsInFlight = new SemaphoreSlim(options.Concurrency, options.Concurrency);
        _abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _unsignedPayload = options.ServiceUrl is null || options.ServiceUrl.Scheme == Uri.UriSchemeHttps;
    }

    /// <summary>Parts uploaded so far (0 when the payload went up as one PutObject).</summary>
    public int PartsUploaded => _partNumber;

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    // Synchronous writers (TarWriter, GZipStream.Write) block only when a part is full and must be handed off.
    protected override void OnBlockFull() => DispatchPartAsync(_abort.Token).GetAwaiter().GetResult();

    protected override async ValueTask OnBlockFullAsync(CancellationToken cancellationToken) =>
        await DispatchPartAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Uploads what is buffered and makes the object visible; returns its length.</summary>
    public async Task<long> CompleteAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Finished, this);
        if (_uploadId is null)
        {
            var put = new PutObjectRequest
            {
                BucketName = _location.Bucket,
                Key = _location.Key,
                AutoCloseStream = false,
                AutoResetStreamPosition = true,
                UseChunkEncoding = false,
                DisablePayloadSigning = _unsignedPayload,
            };
            await WithRetryAsync(
                async ct =>
                {
                    var buffered = Buffered;
                    using var content = new MemoryStream(buffered.Array!, buffered.Offset, buffered.Count, writable: false);
                    put.InputStream = content;
                    return await _client.PutObjectAsync(put, ct).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (Buffered.Count > 0)
            {
                await DispatchPartAsync(cancellationToken).ConfigureAwait(false);
            }

            var etags = await Task.WhenAll(_parts).ConfigureAwait(false);
            var complete = new CompleteMultipartUploadRequest
            {
                BucketName = _location.Bucket,
                Key = _location.Key,
                UploadId = _uploadId,
                PartETags = [.. etags.OrderBy(p => p.PartNumber)],
            };
            await WithRetryAsync(ct => _client.CompleteMultipartUploadAsync(complete, ct), cancellationToken).ConfigureAwait(false);
        }

        Finished = true;
        ReturnBlock();
        return Length;
    }

    /// <summary>Stops every part in flight and aborts the multipart upload, so no partial object or stray parts remain.</summary>
    public async Task AbortAsync()
    {
        if (Finished)
        {
            return;
        }

        Finished = true;
        await _abort.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_parts).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The parts were cancelled or had failed; the abort below is what matters.
        }

        if (_uploadId is not null)
        {
            // The caller's token is likely cancelled already; the abort still has to reach S3.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var abort = new AbortMultipartUploadRequest { BucketName = _location.Bucket, Key = _location.Key, UploadId = _uploadId };
            try
            {
                await _retry.ExecuteAsync(ct => _client.AbortMultipartUploadAsync(abort, ct), timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is AmazonS3Exception or HttpRequestException or IOException or OperationCanceledException)
            {
                // Unreachable S3: the parts stay invisible (never completed) and a bucket lifecycle rule reclaims them.
            }
        }

        ReturnBlock();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (!Finished)
            {
                AbortAsync().GetAwaiter().GetResult();
            }

            _abort.Dispose();
            _partsInFlight.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!Finished)
        {
            await AbortAsync().ConfigureAwait(false);
        }

        _abort.Dispose();
        _partsInFlight.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private async Task DispatchPartAsync(CancellationToken cancellationToken)
    {
        // Fail the writer fast when a part has already failed for good, rather than after it writes everything.
        if (_parts.FirstOrDefault(p => p.IsFaulted) is { } failed)
        {
            await failed.ConfigureAwait(false);
        }

        if (_partNumber == MaxParts)
        {
            throw new ObjectStoreException($"{_location}: the upload exceeds {MaxParts} parts of {_options.PartSize} bytes; raise the part size.");
        }

        if (_uploadId is null)
        {
            var create = new InitiateMultipartUploadRequest { BucketName = _location.Bucket, Key = _location.Key };
            var created = await WithRetryAsync(ct => _client.InitiateMultipartUploadAsync(create, ct), cancellationToken).ConfigureAwait(false);
            _uploadId = created.UploadId;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abort.Token);
        await _partsInFlight.WaitAsync(linked.Token).ConfigureAwait(false);
        var (buffer, size) = TakeBlock();
        _parts.Add(UploadPartAsync(++_partNumber, buffer, size));
    }

    private async Task<PartETag> UploadPartAsync(int partNumber, byte[] buffer, int size)
    {
        try
        {
            var request = new UploadPartRequest
            {
                BucketName = _location.Bucket,
                Key = _location.Key,
                UploadId = _uploadId,
                PartNumber = partNumber,
                PartSize = size,
                UseChunkEncoding = false,
                DisablePayloadSigning = _unsignedPayload,
            };
            var response = await WithRetryAsync(
                async ct =>
                {
                    using var content = new MemoryStream(buffer, 0, size, writable: false);
                    request.InputStream = content;
                    return await _client.UploadPartAsync(request, ct).ConfigureAwait(false);
                },
                _abort.Token).ConfigureAwait(false);
            return new PartETag(partNumber, response.ETag);
        }
        finally
        {
            ReturnToPool(buffer);
            _partsInFlight.Release();
        }
    }

    private async Task<T> WithRetryAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await _retry.ExecuteAsync(
                async ct =>
                {
                    await _requestSlots.WaitAsync(ct).ConfigureAwait(false);
                    try
                    {
                        return await call(ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        _requestSlots.Release();
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Wrap(e, _location.ToString(), _options.ServiceUrl);
        }
    }
}
