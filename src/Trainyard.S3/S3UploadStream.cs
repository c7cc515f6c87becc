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
internal sealed class S3UploadStream : Stream
{
    private const int MaxParts = 10_000;

    private readonly IAmazonS3 _client;
    private readonly S3Location _location;
    private readonly S3ObjectStoreOptions _options;
    private readonly RetryPolicy _retry;
    private readonly SemaphoreSlim _requestSlots;
    private readonly ArrayPool<byte> _pool;
    private readonly SemaphoreSlim _partsInFlight;
    private readonly CancellationTokenSource _abort;
    private readonly List<Task<PartETag>> _parts = [];
    private byte[]? _buffer;
    private int _filled;
    private int _partNumber;
    private long _length;
    private string? _uploadId;
    private bool _finished;

    // aws-chunked bodies (the SDK's default) are not understood by many S3-compatible servers, and
    // hashing every part for the signature costs a core; over TLS an unsigned payload is as safe.
    private readonly bool _unsignedPayload;

    public S3UploadStream(
        IAmazonS3 client, S3Location location, S3ObjectStoreOptions options, RetryPolicy retry, SemaphoreSlim requestSlots, ArrayPool<byte> pool, CancellationToken cancellationToken)
    {
        _client = client;
        _location = location;
        _options = options;
        _retry = retry;
        _requestSlots = requestSlots;
        _pool = pool;
        _partsInFlight = new SemaphoreSlim(options.Concurrency, options.Concurrency);
        _abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _unsignedPayload = options.ServiceUrl is null || options.ServiceUrl.Scheme == Uri.UriSchemeHttps;
    }

    /// <summary>Parts uploaded so far (0 when the payload went up as one PutObject).</summary>
    public int PartsUploaded => _partNumber;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_finished;
    public override long Length => _length;
    public override long Position { get => _length; set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        // Synchronous writers (TarWriter, GZipStream.Write) block only when a part is full and must be handed off.
        while (!buffer.IsEmpty)
        {
            var n = Append(buffer);
            buffer = buffer[n..];
            if (_filled == _options.PartSize)
            {
                DispatchPartAsync(_abort.Token).GetAwaiter().GetResult();
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var n = Append(buffer.Span);
            buffer = buffer[n..];
            if (_filled == _options.PartSize)
            {
                await DispatchPartAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Uploads what is buffered and makes the object visible; returns its length.</summary>
    public async Task<long> CompleteAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
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
                    using var content = new MemoryStream(_buffer ?? [], 0, _filled, writable: false);
                    put.InputStream = content;
                    return await _client.PutObjectAsync(put, ct).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (_filled > 0)
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

        _finished = true;
        ReturnBuffer();
        return _length;
    }

    /// <summary>Stops every part in flight and aborts the multipart upload, so no partial object or stray parts remain.</summary>
    public async Task AbortAsync()
    {
        if (_finished)
        {
            return;
        }

        _finished = true;
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

        ReturnBuffer();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (!_finished)
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
        if (!_finished)
        {
            await AbortAsync().ConfigureAwait(false);
        }

        _abort.Dispose();
        _partsInFlight.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private int Append(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _buffer ??= _pool.Rent(_options.PartSize);
        var n = Math.Min(data.Length, _options.PartSize - _filled);
        data[..n].CopyTo(_buffer.AsSpan(_filled));
        _filled += n;
        _length += n;
        return n;
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
        var buffer = _buffer!;
        var size = _filled;
        _buffer = null;
        _filled = 0;
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
            _pool.Return(buffer);
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

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            _pool.Return(_buffer);
            _buffer = null;
        }
    }
}
