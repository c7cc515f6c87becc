using System.Buffers;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Trainyard.Storage;
using S3Location = Trainyard.Storage.S3Location;

namespace Trainyard.S3;

/// <summary>
/// Objects in S3 or any S3-compatible server, through AWSSDK.S3 for metadata and multipart uploads and
/// plain ranged GETs for downloads. One instance owns one connection pool; every transfer it runs
/// shares the <see cref="S3ObjectStoreOptions.Concurrency"/> bound on requests in flight.
/// </summary>
public sealed partial class S3ObjectStore : IObjectStore, IDisposable
{
    private readonly SocketsHttpHandler _handler;
    private readonly HttpClient _http;
    private readonly AmazonS3Client _client;
    private readonly AmazonS3Client _dataClient;
    private readonly SemaphoreSlim _requestSlots;
    private readonly RetryPolicy _retry;
    private readonly ArrayPool<byte> _partPool;
    private readonly SigV4Presigner? _presigner;

    /// <summary>Creates a store with the given options (see <see cref="FromEnvironment"/> for the usual set-up).</summary>
    public S3ObjectStore(S3ObjectStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        _handler = S3HttpHandlerFactory.Create(options);
        _http = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        _client = CreateClient(options, _handler, options.MaxRetries);

        // Transfers retry in our own loop (resuming a range where it broke), so the SDK must not retry underneath.
        _dataClient = CreateClient(options, _handler, maxErrorRetry: 0);
        _requestSlots = new SemaphoreSlim(options.Concurrency, options.Concurrency);
        _retry = new RetryPolicy(options.MaxRetries, options.RetryBaseDelay, options.RetryMaxDelay);
        _partPool = ArrayPool<byte>.Create(options.PartSize, options.Concurrency + 2);
        _presigner = options.ServiceUrl is { } url ? new SigV4Presigner(url, options.Region, options.ForcePathStyle) : null;
    }

    /// <inheritdoc />
    public string Name => "s3";

    /// <summary>The options this store was created with.</summary>
    public S3ObjectStoreOptions Options { get; }

    /// <inheritdoc/>
    public string Where => Options.ServiceUrl is { } url ? $"S3 at {url}" : $"AWS S3 in {Options.Region} (https://s3.{Options.Region}.amazonaws.com)";

    /// <summary>
    /// A store configured the standard AWS way: endpoint from <c>AWS_ENDPOINT_URL_S3</c>, else
    /// <c>AWS_ENDPOINT_URL</c> (path-style addressing when either is set); region from <c>AWS_REGION</c>,
    /// else <c>AWS_DEFAULT_REGION</c>, else us-east-1; credentials from the SDK's default chain;
    /// <c>AWS_CA_BUNDLE</c> trusted for HTTPS endpoints only.
    /// </summary>
    /// <param name="configure">Adjusts the options (part size, concurrency …) after the environment is read.</param>
    public static S3ObjectStore FromEnvironment(Action<S3ObjectStoreOptions>? configure = null)
    {
        var options = OptionsFromEnvironment(Environment.GetEnvironmentVariable);
        configure?.Invoke(options);
        return new S3ObjectStore(options);
    }

    internal static S3ObjectStoreOptions OptionsFromEnvironment(Func<string, string?> env)
    {
        var options = new S3ObjectStoreOptions
        {
            Region = NonEmpty(env("AWS_REGION")) ?? NonEmpty(env("AWS_DEFAULT_REGION")) ?? "us-east-1",
            CaBundlePath = NonEmpty(env("AWS_CA_BUNDLE")),
        };
        var endpoint = NonEmpty(env("AWS_ENDPOINT_URL_S3")) ?? NonEmpty(env("AWS_ENDPOINT_URL"));
        if (endpoint is not null)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                throw new ObjectStoreException($"The S3 endpoint '{endpoint}' (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) is not an http(s) URL.");
            }

            options.ServiceUrl = url;
            options.ForcePathStyle = true;
        }

        return options;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static AmazonS3Client CreateClient(S3ObjectStoreOptions options, HttpMessageHandler handler, int maxErrorRetry)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            MaxErrorRetry = maxErrorRetry,
            HttpClientFactory = new SharedHttpClientFactory(handler),

            // The SDK's default CRC trailers use aws-chunked bodies that many S3-compatible servers
            // (s3rver among them) reject; TLS and our own length/MD5 checks cover integrity.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (options.ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return options.Credentials is { } credentials ? new AmazonS3Client(credentials, config) : new AmazonS3Client(config);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RequireBucket(prefix);
        string? token = null;
        do
        {
            var request = new ListObjectsV2Request { BucketName = prefix.Bucket, Prefix = prefix.Key, ContinuationToken = token };
            var page = await CallAsync(prefix, ct => _client.ListObjectsV2Async(request, ct), cancellationToken).ConfigureAwait(false);
            foreach (var o in page.S3Objects ?? [])
            {
                yield return new ObjectInfo(new S3Location(prefix.Bucket, o.Key), o.Size ?? 0, o.LastModified ?? default, Unquote(o.ETag));
            }

            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (!string.IsNullOrEmpty(token));
    }

    /// <inheritdoc />
    public async Task<bool> AnyAsync(S3Location prefix, CancellationToken cancellationToken)
    {
        RequireBucket(prefix);
        var request = new ListObjectsV2Request { BucketName = prefix.Bucket, Prefix = prefix.Key, MaxKeys = 1 };
        var page = await CallAsync(prefix, ct => _client.ListObjectsV2Async(request, ct), cancellationToken).ConfigureAwait(false);
        return page.S3Objects is { Count: > 0 };
    }

    /// <inheritdoc />
    public async Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken)
    {
        RequireBucket(location);
        try
        {
            var request = new GetObjectMetadataRequest { BucketName = location.Bucket, Key = location.Key };
            var head = await _client.GetObjectMetadataAsync(request, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(location, head.ContentLength, head.LastModified ?? default, Unquote(head.ETag));
        }
        catch (Exception e) when (S3Errors.IsNotFound(e))
        {
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Wrap(e, location.ToString(), Options.ServiceUrl);
        }
    }

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken)
    {
        RequireBucket(location);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (length == 0)
        {
            return Stream.Null;
        }

        var request = new GetObjectRequest { BucketName = location.Bucket, Key = location.Key };
        if (offset > 0 || length is not null)
        {
            // An open-ended range ("bytes=100-") is valid HTTP; ByteRange takes it as a header string.
            request.ByteRange = length is { } l ? new ByteRange(offset, offset + l - 1) : new ByteRange($"bytes={offset}-");
        }

        var response = await CallAsync(location, ct => _client.GetObjectAsync(request, ct), cancellationToken).ConfigureAwait(false);
        return response.ResponseStream;
    }

    /// <inheritdoc />
    public async Task DeleteAsync(S3Location location, CancellationToken cancellationToken)
    {
        RequireBucket(location);
        var request = new DeleteObjectRequest { BucketName = location.Bucket, Key = location.Key };
        await CallAsync(location, ct => _client.DeleteObjectAsync(request, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Releases the connection pool.</summary>
    public void Dispose()
    {
        _client.Dispose();
        _dataClient.Dispose();
        _http.Dispose();
        _handler.Dispose();
        _requestSlots.Dispose();
    }

    private async Task<T> CallAsync<T>(S3Location location, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw S3Errors.Wrap(e, location.ToString(), Options.ServiceUrl);
        }
    }

    private static void RequireBucket(S3Location location)
    {
        if (location.IsFile)
        {
            throw new ObjectStoreException($"{location} is a local path; the S3 store only serves s3:// locations.");
        }
    }

    internal static string? Unquote(string? etag) => etag?.Trim('"');
}
