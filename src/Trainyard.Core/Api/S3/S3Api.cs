using System.Xml;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Trainyard.Storage;

namespace Trainyard.Api.S3;

/// <summary>
/// S3's REST API (path-style, and <c>bucket.localhost</c> virtual-hosted style) over the embedded local
/// store: the subset that the AWS CLI, boto3, the SageMaker SDK and the AWS SDKs use — buckets, objects
/// with their metadata, copies, batch deletes, listings (v1 and v2) and multipart uploads — with S3's
/// XML errors. A bucket is a directory of the store and a key a path below it (<see cref="ObjectKeys"/>
/// says which keys that rules out). With another store configured (<c>--object-store s3</c>) it answers
/// every request with an error that names that store: clients should talk to it directly.
/// </summary>
public sealed partial class S3Api
{
    private readonly LocalObjectStore? _store;
    private readonly LocalMultipartUploads? _uploads;
    private readonly IObjectStore _configured;
    private readonly string _region;
    private readonly ILogger<S3Api> _log;

    public S3Api(IObjectStore objects, TrainyardOptions options, ILogger<S3Api> log)
    {
        _configured = objects;
        _store = objects as LocalObjectStore;
        _uploads = _store is null ? null : new LocalMultipartUploads(_store);
        _region = options.Region;
        _log = log;
    }

    public async Task HandleAsync(HttpContext context)
    {
        var requestId = Guid.NewGuid().ToString("N")[..16].ToUpperInvariant();
        context.Response.Headers["x-amz-request-id"] = requestId;
        context.Response.Headers["x-amz-id-2"] = requestId;
        var (bucket, key) = Target(context);
        try
        {
            if (_store is null)
            {
                throw new S3Exception("NotImplemented", 501,
                    $"This Trainyard server keeps its objects in {_configured.Where}, not in its embedded store, so it does not serve the S3 API: send S3 requests to that store's endpoint.");
            }

            await DispatchAsync(context, bucket, key).ConfigureAwait(false);
        }
        catch (S3Exception e) when (!context.Response.HasStarted)
        {
            await WriteErrorAsync(context, e, bucket, key, requestId).ConfigureAwait(false);
        }
        catch (MultipartException e) when (!context.Response.HasStarted)
        {
            var status = e.Code == "NoSuchUpload" ? 404 : 400;
            await WriteErrorAsync(context, new S3Exception(e.Code, status, e.Message), bucket, key, requestId).ConfigureAwait(false);
        }
        catch (ObjectStoreException e) when (!context.Response.HasStarted)
        {
            // The store refused the key (it cannot be a path below the bucket) or the key conflicts with another.
            await WriteErrorAsync(context, new S3Exception(e.IsKeyConflict ? "KeyConflict" : "InvalidArgument", e.IsKeyConflict ? 409 : 400, e.Message), bucket, key, requestId).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            await WriteErrorAsync(context, new S3Exception("IncompleteBody", 400, "The request body could not be read: " + e.Message), bucket, key, requestId).ConfigureAwait(false);
        }
        catch (IOException e) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            _log.LogWarning(e, "S3 {Method} {Bucket}/{Key} failed", context.Request.Method, bucket, key);
            var full = e.HResult == 28 || e.Message.Contains("No space left", StringComparison.Ordinal);
            await WriteErrorAsync(context, new S3Exception(full ? "ServiceUnavailable" : "InternalError", full ? 503 : 500,
                full ? "The store's disk is full." : "We encountered an internal error. Please try again."), bucket, key, requestId).ConfigureAwait(false);
        }
    }

    /// <summary>The bucket and key a request names, decoded from the raw target (so <c>%2F</c> and <c>%2e%2e</c> are seen as sent).</summary>
    private static (string Bucket, string Key) Target(HttpContext context)
    {
        var raw = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "/";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? raw : raw[..query];
        if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            path = new Uri(path).AbsolutePath;
        }

        path = path.TrimStart('/');
        var host = context.Request.Host.Host;
        if (host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
        {
            return (host[..^".localhost".Length], Uri.UnescapeDataString(path));
        }

        var slash = path.IndexOf('/', StringComparison.Ordinal);
        return slash < 0
            ? (Uri.UnescapeDataString(path), "")
            : (Uri.UnescapeDataString(path[..slash]), Uri.UnescapeDataString(path[(slash + 1)..]));
    }

    private Task DispatchAsync(HttpContext context, string bucket, string key)
    {
        var request = context.Request;
        var query = request.Query;
        var method = request.Method;
        if (bucket.Length == 0)
        {
            return HttpMethods.IsGet(method)
                ? ListBucketsAsync(context)
                : throw new S3Exception("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
        }

        if (ObjectKeys.BucketProblem(bucket) is { } bucketProblem)
        {
            throw new S3Exception("InvalidBucketName", 400, $"The specified bucket is not valid: {bucketProblem}.").With("BucketName", bucket);
        }

        if (key.Length == 0)
        {
            if (HttpMethods.IsPut(method))
            {
                return Unsupported(query, "acl", "cors", "lifecycle", "policy", "tagging", "versioning", "website", "encryption", "notification", "logging")
                    ?? CreateBucketAsync(context, bucket);
            }

            if (HttpMethods.IsHead(method))
            {
                return HeadBucketAsync(context, bucket);
            }

            if (HttpMethods.IsDelete(method))
            {
                return Unsupported(query, "cors", "lifecycle", "policy", "tagging", "website", "encryption") ?? DeleteBucketAsync(context, bucket);
            }

            if (HttpMethods.IsPost(method) && query.ContainsKey("delete"))
            {
                return DeleteObjectsAsync(context, bucket);
            }

            if (HttpMethods.IsGet(method))
            {
                if (query.ContainsKey("location"))
                {
                    return GetBucketLocationAsync(context, bucket);
                }

                if (query.ContainsKey("uploads"))
                {
                    return ListMultipartUploadsAsync(context, bucket);
                }

                if (query.ContainsKey("versioning"))
                {
                    return GetBucketVersioningAsync(context, bucket);
                }

                return Unsupported(query, "acl", "cors", "lifecycle", "policy", "tagging", "website", "encryption", "notification", "logging", "versions", "replication")
                    ?? (query["list-type"] == "2" ? ListObjectsV2Async(context, bucket) : ListObjectsV1Async(context, bucket));
            }

            throw new S3Exception("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
        }

        if (HttpMethods.IsPut(method))
        {
            if (query.ContainsKey("uploadId") || query.ContainsKey("partNumber"))
            {
                return UploadPartAsync(context, bucket, key);
            }

            return Unsupported(query, "acl", "tagging", "retention", "legal-hold")
                ?? (request.Headers.ContainsKey("x-amz-copy-source") ? CopyObjectAsync(context, bucket, key) : PutObjectAsync(context, bucket, key));
        }

        if (HttpMethods.IsGet(method) || HttpMethods.IsHead(method))
        {
            if (query.ContainsKey("uploadId"))
            {
                return ListPartsAsync(context, bucket, key);
            }

            if (query.ContainsKey("tagging") && HttpMethods.IsGet(method))
            {
                return GetObjectTaggingAsync(context, bucket, key);
            }

            return Unsupported(query, "acl", "tagging", "retention", "legal-hold", "attributes", "torrent") ?? GetObjectAsync(context, bucket, key, HttpMethods.IsHead(method));
        }

        if (HttpMethods.IsDelete(method))
        {
            return query.ContainsKey("uploadId") ? AbortMultipartUploadAsync(context, bucket, key) : Unsupported(query, "tagging") ?? DeleteObjectAsync(context, bucket, key);
        }

        if (HttpMethods.IsPost(method))
        {
            if (query.ContainsKey("uploads"))
            {
                return CreateMultipartUploadAsync(context, bucket, key);
            }

            if (query.ContainsKey("uploadId"))
            {
                return CompleteMultipartUploadAsync(context, bucket, key);
            }
        }

        throw new S3Exception("MethodNotAllowed", 405, "The specified method is not allowed against this resource.");
    }

    // A subresource Trainyard's store has no notion of: S3's NotImplemented, naming it.
    private static Task? Unsupported(IQueryCollection query, params string[] names)
    {
        foreach (var name in names)
        {
            if (query.ContainsKey(name))
            {
                throw new S3Exception("NotImplemented", 501, $"A header or query you provided implies functionality that is not implemented: Trainyard's embedded store does not keep '{name}'.");
            }
        }

        return null;
    }

    internal static async Task WriteErrorAsync(HttpContext context, S3Exception e, string bucket, string key, string requestId)
    {
        var response = context.Response;
        response.Headers.Remove("ETag");
        if (HttpMethods.IsHead(context.Request.Method))
        {
            // HEAD answers carry no body: the status is the error (the SDK reads 404 as "Not Found").
            response.StatusCode = e.Status;
            response.Headers["x-amz-error-code"] = e.Code;
            response.ContentLength = 0;
            return;
        }

        await S3Xml.WriteAsync(response, e.Status, "Error", w =>
        {
            w.WriteElementString("Code", e.Code);
            w.WriteElementString("Message", e.Message);
            foreach (var (name, value) in e.Details)
            {
                w.WriteElementString(name, value);
            }

            if (!e.Details.Any(d => d.Name == "BucketName") && bucket.Length > 0 && e.Code.Contains("Bucket", StringComparison.Ordinal))
            {
                w.WriteElementString("BucketName", bucket);
            }

            if (!e.Details.Any(d => d.Name == "Key") && key.Length > 0 && e.Code is "NoSuchKey" or "KeyConflict" or "InvalidArgument")
            {
                w.WriteElementString("Key", key);
            }

            w.WriteElementString("RequestId", requestId);
            w.WriteElementString("HostId", requestId);
        }, withNamespace: false).ConfigureAwait(false);
    }

    private string BucketDirectory(string bucket) => _store!.BucketPath(bucket);

    /// <summary>The bucket's directory; NoSuchBucket when there is none.</summary>
    private string RequireBucket(string bucket)
    {
        var dir = BucketDirectory(bucket);
        return Directory.Exists(dir) ? dir : throw S3Exception.NoSuchBucket(bucket);
    }

    private async Task ListBucketsAsync(HttpContext context)
    {
        var buckets = new DirectoryInfo(_store!.Root).EnumerateDirectories()
            .Where(d => ObjectKeys.BucketProblem(d.Name) is null)
            .OrderBy(d => d.Name, StringComparer.Ordinal)
            .ToList();
        await S3Xml.WriteAsync(context.Response, 200, "ListAllMyBucketsResult", w =>
        {
            WriteOwner(w);
            w.WriteStartElement("Buckets");
            foreach (var dir in buckets)
            {
                w.WriteStartElement("Bucket");
                w.WriteElementString("Name", dir.Name);
                w.WriteElementString("CreationDate", S3Xml.Time(dir.CreationTimeUtc));
                w.WriteEndElement();
            }

            w.WriteEndElement();
        }).ConfigureAwait(false);
    }

    private static void WriteOwner(XmlWriter w)
    {
        w.WriteStartElement("Owner");
        w.WriteElementString("ID", "trainyard");
        w.WriteElementString("DisplayName", "trainyard");
        w.WriteEndElement();
    }

    private async Task CreateBucketAsync(HttpContext context, string bucket)
    {
        if (ObjectKeys.NewBucketProblem(bucket) is { } problem)
        {
            throw new S3Exception("InvalidBucketName", 400, "The specified bucket is not valid. " + problem).With("BucketName", bucket);
        }

        // The body, if any, is a CreateBucketConfiguration naming a region: any region is this store.
        if (context.Request.ContentLength > 0)
        {
            await S3Xml.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        }

        var dir = BucketDirectory(bucket);
        if (Directory.Exists(dir))
        {
            throw new S3Exception("BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it.").With("BucketName", bucket);
        }

        Directory.CreateDirectory(dir);
        context.Response.Headers.Location = "/" + bucket;
        context.Response.StatusCode = 200;
        context.Response.ContentLength = 0;
    }

    private Task HeadBucketAsync(HttpContext context, string bucket)
    {
        RequireBucket(bucket);
        context.Response.Headers["x-amz-bucket-region"] = _region;
        context.Response.StatusCode = 200;
        context.Response.ContentLength = 0;
        return Task.CompletedTask;
    }

    private Task DeleteBucketAsync(HttpContext context, string bucket)
    {
        var dir = RequireBucket(bucket);
        if (!LocalListing.IsEmpty(dir) || _uploads!.List(bucket).Count > 0)
        {
            throw new S3Exception("BucketNotEmpty", 409, "The bucket you tried to delete is not empty").With("BucketName", bucket);
        }

        Directory.Delete(dir, recursive: true);
        context.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    private Task GetBucketLocationAsync(HttpContext context, string bucket)
    {
        RequireBucket(bucket);

        // us-east-1 is answered as an empty constraint, as S3 does.
        return S3Xml.WriteAsync(context.Response, 200, "LocationConstraint", w => w.WriteString(_region == "us-east-1" ? "" : _region));
    }

    private Task GetBucketVersioningAsync(HttpContext context, string bucket)
    {
        RequireBucket(bucket);
        return S3Xml.WriteAsync(context.Response, 200, "VersioningConfiguration", _ => { });
    }
}
