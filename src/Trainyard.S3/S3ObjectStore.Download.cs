using System.Collections.Concurrent;
using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Microsoft.Win32.SafeHandles;
using Trainyard.Storage;

namespace Trainyard.S3;

public sealed partial class S3ObjectStore
{
    // Large enough that one read per syscall moves a lot, small enough that 16 ranges in flight stay under 4 MiB.
    private const int CopyBufferSize = 256 * 1024;

    private int _activeDownloads;
    private AWSCredentials? _credentials;

    /// <summary>
    /// Downloads an object into <paramref name="destinationPath"/>: an object larger than
    /// <see cref="S3ObjectStoreOptions.PartSize"/> is fetched as byte ranges in parallel (as many as its
    /// share of the request slots allows) written at their offsets into a preallocated file; a range
    /// that breaks is resumed from its first missing byte. The result
    /// is checked against the listed size (and the MD5 ETag of single-part objects); on failure the
    /// partial file is deleted.
    /// </summary>
    public async Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        RequireBucket(source.Location);
        var uri = source.Location.ToString();
        var size = source.Size;
        var md5 = Options.VerifyMd5 && IsMd5ETag(source.ETag) ? Convert.FromHexString(source.ETag!) : null;
        if (Path.GetDirectoryName(Path.GetFullPath(destinationPath)) is { } parent)
        {
            Directory.CreateDirectory(parent);
        }

        Interlocked.Increment(ref _activeDownloads);
        _plans.TryGetValue(source, out var plan);
        try
        {
            using (var file = CreateFile(destinationPath, size))
            {
                var ranges = RangeCount(size, plan);
                if (ranges > 1)
                {
                    Interlocked.Increment(ref _splitDownloads);
                }

                byte[]? actual = null;
                if (ranges == 1)
                {
                    // One request; hash as the bytes stream past, in order.
                    using var hash = md5 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                    await FetchRangeAsync(source, file, 0, size, whole: true, hash, progress, cancellationToken).ConfigureAwait(false);
                    actual = hash?.GetHashAndReset();
                }
                else
                {
                    // Ranges land out of order, so hash the written file once they are all in (from the page cache).
                    var rangeSize = (size + ranges - 1) / ranges;
                    await Parallel.ForEachAsync(
                        Enumerable.Range(0, ranges),
                        new ParallelOptions { MaxDegreeOfParallelism = Options.Concurrency, CancellationToken = cancellationToken },
                        async (i, ct) =>
                        {
                            var start = i * rangeSize;
                            await FetchRangeAsync(source, file, start, Math.Min(rangeSize, size - start), whole: false, null, progress, ct).ConfigureAwait(false);
                        }).ConfigureAwait(false);
                    if (md5 is not null)
                    {
                        actual = await HashFileAsync(file, size, cancellationToken).ConfigureAwait(false);
                    }
                }

                await CheckMd5Async(source.Location, md5, actual, cancellationToken).ConfigureAwait(false);
                var length = RandomAccess.GetLength(file);
                if (length != size)
                {
                    throw new ObjectStoreException($"{uri}: downloaded {length} bytes but the object has {size}; it changed during the download.");
                }
            }
        }
        catch (Exception e)
        {
            TryDelete(destinationPath);
            if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw S3Errors.Wrap(e, uri, Options.ServiceUrl);
        }
        finally
        {
            Interlocked.Decrement(ref _activeDownloads);
            plan?.Finished(source);
        }
    }

    // Creating a file takes its directory's lock in the kernel, and parallel downloads into one directory
    // left the waiting threads spinning on it (rwsem_spin_on_owner: 7 % of the server's CPU while 2,000
    // objects landed in one channel on two cores, taken from the store serving them). Creates in one
    // directory are serialised by the kernel anyway; here the waiters sleep instead. Striped by directory.
    private static readonly Lock[] CreateLocks = [.. Enumerable.Range(0, 64).Select(_ => new Lock())];

    private static SafeFileHandle CreateFile(string path, long size)
    {
        var directory = Path.GetDirectoryName(path) ?? "";
        lock (CreateLocks[(uint)StringComparer.Ordinal.GetHashCode(directory) % (uint)CreateLocks.Length])
        {
            return File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None, FileOptions.Asynchronous, preallocationSize: size);
        }
    }

    /// <summary>
    /// How many ranges to split an object into: enough to keep the request slots busy, but no more than
    /// this download's share of them. When many objects download at once, each whole-object GET already
    /// fills a slot, and splitting further only adds requests and scattered writes (measured: on a
    /// 2-core box against s3rver, 8 concurrent whole-object GETs of 128 MiB beat 64 ranged GETs of 16 MiB).
    /// </summary>
    /// <remarks>
    /// Within a planned batch (<see cref="PlanDownloads"/>) the share is by bytes: the object's part of
    /// the batch's bytes still to come, times the request slots. Eight equal objects get one GET each from
    /// the start, instead of the first ones being cut into ranges before the others have started (a
    /// split object is also hashed again after its ranges land); one large object among small ones still
    /// gets most of the slots.
    /// </remarks>
    private int RangeCount(long size, DownloadPlan? plan)
    {
        var bySize = (int)Math.Max(1, (size + Options.PartSize - 1) / Options.PartSize);
        var share = Math.Max(1, Options.Concurrency / Math.Max(1, Volatile.Read(ref _activeDownloads)));
        if (plan is not null)
        {
            var remaining = Math.Max(size, plan.RemainingBytes);
            share = Math.Min(share, (int)Math.Max(1, Options.Concurrency * size / remaining));
        }

        return Math.Min(bySize, share);
    }

    /// <inheritdoc />
    public IDisposable PlanDownloads(IReadOnlyCollection<ObjectInfo> objects)
    {
        ArgumentNullException.ThrowIfNull(objects);
        var plan = new DownloadPlan(this, objects);
        foreach (var o in objects)
        {
            _plans[o] = plan;
        }

        return plan;
    }

    /// <summary>Objects fetched as more than one range so far (for tests and benchmarks).</summary>
    internal long SplitDownloads => Interlocked.Read(ref _splitDownloads);

    private long _splitDownloads;

    // The planned batch each announced object belongs to, by reference (the same key listed twice is two downloads).
    private readonly ConcurrentDictionary<ObjectInfo, DownloadPlan> _plans = new(ReferenceEqualityComparer.Instance);

    /// <summary>A batch of downloads announced together: how many of its bytes are not downloaded yet.</summary>
    private sealed class DownloadPlan(S3ObjectStore store, IReadOnlyCollection<ObjectInfo> objects) : IDisposable
    {
        private long _remaining = objects.Sum(o => o.Size);

        public long RemainingBytes => Interlocked.Read(ref _remaining);

        public void Finished(ObjectInfo o)
        {
            if (store._plans.TryRemove(new KeyValuePair<ObjectInfo, DownloadPlan>(o, this)))
            {
                Interlocked.Add(ref _remaining, -o.Size);
            }
        }

        public void Dispose()
        {
            foreach (var o in objects)
            {
                store._plans.TryRemove(new KeyValuePair<ObjectInfo, DownloadPlan>(o, this));
            }
        }
    }

    /// <summary>
    /// Fetches [<paramref name="start"/>, start + <paramref name="length"/>) into <paramref name="file"/>,
    /// retrying transient failures from the first byte not yet written.
    /// </summary>
    private async Task FetchRangeAsync(
        ObjectInfo source, SafeFileHandle file, long start, long length, bool whole, IncrementalHash? hash, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        long done = 0;
        var attempt = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            while (true)
            {
                var before = done;
                await _requestSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    idle.CancelAfter(Options.ReadIdleTimeout);

                    // A whole-object GET asks for no range, so an empty object works and servers need not support ranges for it.
                    var ranged = !(whole && done == 0);
                    var body = await OpenBodyAsync(source, ranged ? start + done : 0, ranged ? length - done : 0, ranged, idle.Token).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        while (done < length)
                        {
                            // Fill the buffer before writing: one pwrite per 256 KiB instead of one per socket read.
                            var want = (int)Math.Min(buffer.Length, length - done);
                            var n = 0;
                            try
                            {
                                while (n < want)
                                {
                                    var read = await body.ReadAsync(buffer.AsMemory(n, want - n), idle.Token).ConfigureAwait(false);
                                    if (read == 0)
                                    {
                                        throw new IOException($"The connection closed after {done + n} of {length} bytes.");
                                    }

                                    n += read;
                                    idle.CancelAfter(Options.ReadIdleTimeout);
                                }
                            }
                            finally
                            {
                                // Keep what did arrive, so a retry resumes after it.
                                if (n > 0)
                                {
                                    // A write into the page cache is a memory copy: done in place it saves a hop through the
                                    // thread pool per 256 KiB (what RandomAccess.WriteAsync does on Linux).
                                    RandomAccess.Write(file, buffer.AsSpan(0, n), start + done);
                                    hash?.AppendData(buffer, 0, n);
                                    done += n;
                                    progress?.Report(n);
                                }
                            }
                        }

                        if (whole && await body.ReadAsync(buffer.AsMemory(0, 1), idle.Token).ConfigureAwait(false) > 0)
                        {
                            throw new ObjectStoreException($"{source.Location}: the object is larger than the {length} bytes listed; it changed during the download.");
                        }
                    }

                    return;
                }
                catch (Exception e) when (_retry.ShouldRetry(e, done > before ? 0 : attempt, cancellationToken))
                {
                    // A try that moved bytes resets the count: a flaky link that keeps making progress should finish.
                    attempt = done > before ? 1 : attempt + 1;
                }
                finally
                {
                    _requestSlots.Release();
                }

                await _retry.DelayAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The body of a GET of the object (or one range of it); disposing it ends the request.</summary>
    private async Task<Stream> OpenBodyAsync(ObjectInfo source, long from, long count, bool ranged, CancellationToken cancellationToken)
    {
        if (Options.DirectHttpDownloads)
        {
            var response = await SendGetAsync(source, from, count, ranged, cancellationToken).ConfigureAwait(false);
            try
            {
                return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }

        var request = new Amazon.S3.Model.GetObjectRequest
        {
            BucketName = source.Location.Bucket,
            Key = source.Location.Key,
            EtagToMatch = string.IsNullOrEmpty(source.ETag) ? null : $"\"{source.ETag}\"",
            ByteRange = ranged ? new Amazon.S3.Model.ByteRange(from, from + count - 1) : null,
        };
        var answer = await _dataClient.GetObjectAsync(request, cancellationToken).ConfigureAwait(false);
        return answer.ResponseStream;
    }

    /// <summary>A GET of the object (or one range of it), answered with a success status or thrown as an S3 error.</summary>
    private async Task<HttpResponseMessage> SendGetAsync(ObjectInfo source, long from, long count, bool ranged, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, await PresignGetAsync(source.Location).ConfigureAwait(false));
        if (ranged)
        {
            request.Headers.Range = new RangeHeaderValue(from, from + count - 1);
        }

        if (!string.IsNullOrEmpty(source.ETag))
        {
            // Ranges of one object must come from one version of it.
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{source.ETag}\""));
        }

        HttpResponseMessage? response = null;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                if (ranged && response.StatusCode != HttpStatusCode.PartialContent && from != 0)
                {
                    throw new ObjectStoreException($"{source.Location}: the server ignored the byte range {from}-{from + count - 1}.");
                }

                var answer = response;
                response = null;
                return answer;
            }

            throw await ReadErrorAsync(response, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            response?.Dispose();
            request.Dispose();
        }
    }

    private async Task<Uri> PresignGetAsync(S3Location location)
    {
        var expires = TimeSpan.FromHours(1);
        if (_presigner is not null)
        {
            // Presigning per request keeps long downloads clear of URL expiry; it is cheap enough (see SigV4Presigner).
            _credentials ??= Options.Credentials ?? DefaultAWSCredentialsIdentityResolver.GetCredentials(_client.Config);
            var credentials = await _credentials.GetCredentialsAsync().ConfigureAwait(false);
            return _presigner.PresignGet(location.Bucket, location.Key, credentials, DateTime.UtcNow, expires);
        }

        var url = await _client.GetPreSignedURLAsync(new Amazon.S3.Model.GetPreSignedUrlRequest
        {
            BucketName = location.Bucket,
            Key = location.Key,
            Verb = Amazon.S3.HttpVerb.GET,
            Expires = DateTime.UtcNow.Add(expires),
            Protocol = Amazon.S3.Protocol.HTTPS,
        }).ConfigureAwait(false);
        return new Uri(url);
    }

    private static async Task<S3ResponseException> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            body = "";
        }

        var code = XmlElement(body, "Code") ?? response.StatusCode switch
        {
            HttpStatusCode.NotFound => "NoSuchKey",
            HttpStatusCode.Forbidden => "AccessDenied",
            HttpStatusCode.PreconditionFailed => "PreconditionFailed",
            _ => response.ReasonPhrase ?? "Error",
        };
        return new S3ResponseException(response.StatusCode, code, XmlElement(body, "Message"));
    }

    // S3 error bodies are flat and tiny; a substring search avoids an XML parser for two fields.
    private static string? XmlElement(string xml, string name)
    {
        var open = xml.IndexOf($"<{name}>", StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }

        open += name.Length + 2;
        var close = xml.IndexOf($"</{name}>", open, StringComparison.Ordinal);
        return close < 0 ? null : WebUtility.HtmlDecode(xml[open..close]);
    }

    private static async Task<byte[]> HashFileAsync(SafeFileHandle file, long size, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            for (long offset = 0; offset < size;)
            {
                var n = await RandomAccess.ReadAsync(file, buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - offset)), offset, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                hash.AppendData(buffer, 0, n);
                offset += n;
            }

            return hash.GetHashAndReset();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task CheckMd5Async(S3Location location, byte[]? expected, byte[]? actual, CancellationToken cancellationToken)
    {
        if (expected is null || actual is null || expected.AsSpan().SequenceEqual(actual))
        {
            return;
        }

        // SSE-KMS and SSE-C objects have 32-hex-digit ETags that are not the MD5 of the content; only a
        // HEAD says which kind this is, and it is worth asking only when the hashes disagree.
        var head = await _client.GetObjectMetadataAsync(new Amazon.S3.Model.GetObjectMetadataRequest { BucketName = location.Bucket, Key = location.Key }, cancellationToken).ConfigureAwait(false);
        var kms = head.ServerSideEncryptionMethod is { } sse && sse != Amazon.S3.ServerSideEncryptionMethod.None && sse != Amazon.S3.ServerSideEncryptionMethod.AES256;
        if (kms || head.ServerSideEncryptionCustomerMethod is { } c && c != Amazon.S3.ServerSideEncryptionCustomerMethod.None)
        {
            return;
        }

        throw new ObjectStoreException($"{location}: MD5 {Convert.ToHexStringLower(actual)} of the downloaded bytes does not match the ETag {Convert.ToHexStringLower(expected)}.");
    }

    internal static bool IsMd5ETag(string? etag) => etag is { Length: 32 } && etag.All(Uri.IsHexDigit);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
