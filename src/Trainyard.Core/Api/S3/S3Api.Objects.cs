using System.Globalization;
using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Trainyard.Storage;

namespace Trainyard.Api.S3;

public sealed partial class S3Api
{
    private const string DefaultContentType = "binary/octet-stream";
    private const int MaxListKeys = 1000;

    /// <summary>The Content-Type and <c>x-amz-meta-*</c> a request gives its object.</summary>
    private static ObjectMetadata MetadataFrom(HttpRequest request)
    {
        Dictionary<string, string>? meta = null;
        foreach (var header in request.Headers)
        {
            if (header.Key.StartsWith("x-amz-meta-", StringComparison.OrdinalIgnoreCase))
            {
                meta ??= new Dictionary<string, string>(StringComparer.Ordinal);
                meta[header.Key["x-amz-meta-".Length..].ToLowerInvariant()] = header.Value.ToString();
            }
        }

        if (meta is not null && meta.Sum(m => m.Key.Length + m.Value.Length) > 2048)
        {
            throw new S3Exception("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size of 2 KB.");
        }

        var contentType = request.ContentType;
        return new ObjectMetadata { ContentType = string.IsNullOrEmpty(contentType) ? null : contentType, UserMetadata = meta };
    }

    private S3Location Location(string bucket, string key)
    {
        if (System.Text.Encoding.UTF8.GetByteCount(key) > ObjectKeys.MaxKeyBytes)
        {
            throw new S3Exception("KeyTooLongError", 400, "Your key is too long: the largest key is 1024 bytes of UTF-8.").With("Key", key);
        }

        var location = new S3Location(bucket, key);
        if (ObjectKeys.KeyProblem(key) is { } problem)
        {
            throw new S3Exception("InvalidArgument", 400,
                $"Trainyard's embedded store keeps keys as file paths and cannot store this one: {problem}. (S3 itself allows such keys; see the README's S3 section.)").With("Key", key);
        }

        _store!.PathOf(location);
        return location;
    }

    private async Task PutObjectAsync(HttpContext context, string bucket, string key)
    {
        RequireBucket(bucket);
        var location = Location(bucket, key);
        var metadata = MetadataFrom(context.Request);
        if (_store!.ConflictOf(location) is { } conflict)
        {
            throw new S3Exception("KeyConflict", 409, conflict).With("Key", key);
        }

        var temp = _store.NewTempPath();
        try
        {
            ReceivedPayload payload;
            using (var file = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
            {
                payload = await S3Payload.ReceiveAsync(context.Request, file, 0, context.RequestAborted).ConfigureAwait(false);
            }

            _store.Commit(temp, location, metadata with { ETag = payload.Md5Hex, ChecksumAlgorithm = payload.ChecksumAlgorithm, Checksum = payload.Checksum });
            var response = context.Response;
            response.Headers.ETag = Quote(payload.Md5Hex);
            if (payload.ChecksumAlgorithm is { } algorithm)
            {
                response.Headers[S3Checksums.HeaderOf(algorithm)] = payload.Checksum;
            }

            EchoEncryption(context);
            response.StatusCode = 200;
            response.ContentLength = 0;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static string Quote(string etag) => "\"" + etag + "\"";

    // The SDK asks for aws:kms (or AES256) server-side encryption; the local store keeps nothing encrypted
    // and says back what was asked, as clients expect.
    private static void EchoEncryption(HttpContext context)
    {
        if (context.Request.Headers["x-amz-server-side-encryption"].ToString() is { Length: > 0 } sse)
        {
            context.Response.Headers["x-amz-server-side-encryption"] = sse;
        }
    }

    private async Task CopyObjectAsync(HttpContext context, string bucket, string key)
    {
        RequireBucket(bucket);
        var location = Location(bucket, key);
        var (sourceBucket, sourceKey) = CopySource(context.Request.Headers["x-amz-copy-source"].ToString());
        RequireBucket(sourceBucket);
        var source = Location(sourceBucket, sourceKey);
        var stat = _store!.Stat(source) ?? throw S3Exception.NoSuchKey(sourceKey);
        var directive = context.Request.Headers["x-amz-metadata-directive"].ToString();
        if (directive.Length > 0 && directive is not ("COPY" or "REPLACE"))
        {
            throw S3Exception.InvalidArgument("Unknown metadata directive.", "x-amz-metadata-directive", directive);
        }

        var replace = directive == "REPLACE";
        if (source == location && !replace)
        {
            throw new S3Exception("InvalidRequest", 400,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.");
        }

        if (_store.ConflictOf(location) is { } conflict)
        {
            throw new S3Exception("KeyConflict", 409, conflict).With("Key", key);
        }

        var sourceMetadata = stat.Metadata ?? new ObjectMetadata();
        var metadata = replace ? MetadataFrom(context.Request) with { ETag = sourceMetadata.ETag, ChecksumAlgorithm = sourceMetadata.ChecksumAlgorithm, Checksum = sourceMetadata.Checksum }
            : sourceMetadata;
        var temp = _store.NewTempPath();
        try
        {
            await Task.Run(() => File.Copy(_store.PathOf(source), temp), context.RequestAborted).ConfigureAwait(false);
            _store.Commit(temp, location, metadata);
        }
        catch (FileNotFoundException)
        {
            throw S3Exception.NoSuchKey(sourceKey);
        }
        finally
        {
            File.Delete(temp);
        }

        var copied = _store.Stat(location) ?? throw S3Exception.NoSuchKey(key);
        EchoEncryption(context);
        await S3Xml.WriteAsync(context.Response, 200, "CopyObjectResult", w =>
        {
            w.WriteElementString("LastModified", S3Xml.Time(copied.Info.LastModified));
            w.WriteElementString("ETag", Quote(copied.Info.ETag!));
        }).ConfigureAwait(false);
    }

    /// <summary>The bucket and key of an <c>x-amz-copy-source</c> (<c>bucket/key</c> or <c>/bucket/key</c>, URL-encoded, maybe <c>?versionId=</c>).</summary>
    private static (string Bucket, string Key) CopySource(string header)
    {
        var value = header;
        var q = value.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            value = value[..q];
        }

        value = Uri.UnescapeDataString(value).TrimStart('/');
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == value.Length - 1)
        {
            throw S3Exception.InvalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey.", "x-amz-copy-source", header);
        }

        return (value[..slash], value[(slash + 1)..]);
    }

    private async Task GetObjectAsync(HttpContext context, string bucket, string key, bool head)
    {
        RequireBucket(bucket);
        var location = Location(bucket, key);
        var stat = _store!.Stat(location) ?? throw S3Exception.NoSuchKey(key);
        var (info, metadata) = stat;
        var request = context.Request;
        var response = context.Response;
        var etag = Quote(info.ETag!);
        var lastModified = new DateTimeOffset(info.LastModified.UtcDateTime.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);

        if (request.Headers.IfMatch.ToString() is { Length: > 0 } ifMatch && !Matches(ifMatch, etag))
        {
            throw new S3Exception("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold").With("Condition", "If-Match");
        }

        if (request.Headers.IfUnmodifiedSince.ToString() is { Length: > 0 } ifUnmodified && DateTimeOffset.TryParse(ifUnmodified, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var since) && lastModified > since)
        {
            throw new S3Exception("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold").With("Condition", "If-Unmodified-Since");
        }

        var notModified = request.Headers.IfNoneMatch.ToString() is { Length: > 0 } ifNoneMatch
            ? Matches(ifNoneMatch, etag)
            : request.Headers.IfModifiedSince.ToString() is { Length: > 0 } ifModified && DateTimeOffset.TryParse(ifModified, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var modifiedSince) && lastModified <= modifiedSince;

        response.Headers.ETag = etag;
        response.Headers.LastModified = S3Xml.HttpDate(lastModified);
        response.Headers.AcceptRanges = "bytes";
        if (notModified)
        {
            response.StatusCode = 304;
            return;
        }

        response.ContentType = request.Query["response-content-type"] is { Count: > 0 } overridden ? overridden.ToString() : metadata?.ContentType ?? DefaultContentType;
        foreach (var (name, header) in new[] { ("response-content-disposition", "Content-Disposition"), ("response-content-encoding", "Content-Encoding"), ("response-content-language", "Content-Language"), ("response-cache-control", "Cache-Control"), ("response-expires", "Expires") })
        {
            if (request.Query[name] is { Count: > 0 } v)
            {
                response.Headers[header] = v.ToString();
            }
        }

        foreach (var (name, value) in metadata?.UserMetadata ?? [])
        {
            response.Headers["x-amz-meta-" + name] = value;
        }

        if (metadata?.PartsCount is { } parts && request.Query.ContainsKey("partNumber"))
        {
            response.Headers["x-amz-mp-parts-count"] = parts.ToString(CultureInfo.InvariantCulture);
        }

        long offset = 0, count = info.Size;
        var range = request.Headers.Range.ToString();
        var ranged = range.Length > 0 && TryParseRange(range, info.Size, out offset, out count);
        if (ranged && count <= 0)
        {
            throw new S3Exception("InvalidRange", 416, "The requested range is not satisfiable").With("RangeRequested", range).With("ActualObjectSize", info.Size.ToString(CultureInfo.InvariantCulture));
        }

        if (!ranged && metadata?.ChecksumAlgorithm is { } algorithm && request.Headers["x-amz-checksum-mode"].ToString().Equals("ENABLED", StringComparison.OrdinalIgnoreCase))
        {
            response.Headers[S3Checksums.HeaderOf(algorithm)] = metadata.Checksum;
        }

        response.StatusCode = ranged ? 206 : 200;
        if (ranged)
        {
            response.Headers.ContentRange = $"bytes {offset}-{offset + count - 1}/{info.Size}";
        }

        response.ContentLength = count;
        if (head || count == 0)
        {
            return;
        }

        try
        {
            await response.SendFileAsync(_store.PathOf(location), offset, count, context.RequestAborted).ConfigureAwait(false);
        }
        catch (FileNotFoundException) when (!response.HasStarted)
        {
            throw S3Exception.NoSuchKey(key);
        }
    }

    private static bool Matches(string condition, string etag) =>
        condition.Split(',', StringSplitOptions.TrimEntries).Any(c => c == "*" || c == etag || "\"" + c + "\"" == etag);

    /// <summary>
    /// A single <c>bytes=</c> range of an object of <paramref name="size"/> bytes. False for a header S3 ignores
    /// (malformed, several ranges): the whole object is sent. A range that starts past the end gives a count of 0.
    /// </summary>
    internal static bool TryParseRange(string header, long size, out long offset, out long count)
    {
        offset = 0;
        count = size;
        if (!header.StartsWith("bytes=", StringComparison.Ordinal) || header.Contains(',', StringComparison.Ordinal))
        {
            return false;
        }

        var spec = header["bytes=".Length..].Trim();
        var dash = spec.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0)
        {
            return false;
        }

        var first = spec[..dash];
        var last = spec[(dash + 1)..];
        if (first.Length == 0)
        {
            if (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix))
            {
                return false;
            }

            count = Math.Min(suffix, size);
            offset = size - count;
            return suffix > 0 || (count = 0) == 0;
        }

        if (!long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
        {
            return false;
        }

        long end = size - 1;
        if (last.Length > 0 && (!long.TryParse(last, NumberStyles.None, CultureInfo.InvariantCulture, out end) || end < offset))
        {
            return false;
        }

        if (offset >= size)
        {
            count = 0;
            return true;
        }

        count = Math.Min(end, size - 1) - offset + 1;
        return true;
    }

    private async Task DeleteObjectAsync(HttpContext context, string bucket, string key)
    {
        RequireBucket(bucket);
        var location = Location(bucket, key);
        if (!Directory.Exists(_store!.PathOf(location)))
        {
            await _store.DeleteAsync(location, context.RequestAborted).ConfigureAwait(false);
        }

        context.Response.StatusCode = 204;
    }

    private async Task DeleteObjectsAsync(HttpContext context, string bucket)
    {
        RequireBucket(bucket);
        var document = await S3Xml.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (document.Name.LocalName != "Delete")
        {
            throw S3Exception.MalformedXml($"the root element is <{document.Name.LocalName}>, not <Delete>.");
        }

        var quiet = string.Equals(document.ChildValue("Quiet"), "true", StringComparison.OrdinalIgnoreCase);
        var keys = document.Children("Object").Select(o => o.ChildValue("Key")).ToList();
        if (keys.Count is 0 or > 1000 || keys.Any(k => k is null))
        {
            throw S3Exception.MalformedXml($"a Delete lists 1 to 1,000 <Object> elements, each with a <Key>; this one has {keys.Count}.");
        }

        var deleted = new List<string>();
        var errors = new List<(string Key, string Code, string Message)>();
        foreach (var key in keys)
        {
            try
            {
                var location = Location(bucket, key!);
                if (!Directory.Exists(_store!.PathOf(location)))
                {
                    await _store.DeleteAsync(location, context.RequestAborted).ConfigureAwait(false);
                }

                deleted.Add(key!);
            }
            catch (S3Exception e)
            {
                errors.Add((key!, e.Code, e.Message));
            }
            catch (ObjectStoreException e)
            {
                errors.Add((key!, "InvalidArgument", e.Message));
            }
        }

        await S3Xml.WriteAsync(context.Response, 200, "DeleteResult", w =>
        {
            if (!quiet)
            {
                foreach (var key in deleted)
                {
                    w.WriteStartElement("Deleted");
                    w.WriteElementString("Key", key);
                    w.WriteEndElement();
                }
            }

            foreach (var (key, code, message) in errors)
            {
                w.WriteStartElement("Error");
                w.WriteElementString("Key", key);
                w.WriteElementString("Code", code);
                w.WriteElementString("Message", message);
                w.WriteEndElement();
            }
        }).ConfigureAwait(false);
    }

    private Task GetObjectTaggingAsync(HttpContext context, string bucket, string key)
    {
        RequireBucket(bucket);
        _ = _store!.Stat(Location(bucket, key)) ?? throw S3Exception.NoSuchKey(key);
        return S3Xml.WriteAsync(context.Response, 200, "Tagging", w =>
        {
            w.WriteStartElement("TagSet");
            w.WriteEndElement();
        });
    }

    private sealed record ListArguments(string Prefix, string Delimiter, int MaxKeys, bool UrlEncoded);

    private static ListArguments ListArgumentsOf(IQueryCollection query)
    {
        var maxKeys = MaxListKeys;
        if (query["max-keys"] is { Count: > 0 } mk && (!int.TryParse(mk.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out maxKeys)))
        {
            throw S3Exception.InvalidArgument("Provided max-keys not an integer or within integer range", "max-keys", mk.ToString());
        }

        var encoding = query["encoding-type"].ToString();
        if (encoding.Length > 0 && encoding != "url")
        {
            throw S3Exception.InvalidArgument("Invalid Encoding Method specified in Request", "encoding-type", encoding);
        }

        return new ListArguments(query["prefix"].ToString(), query["delimiter"].ToString(), Math.Min(maxKeys, MaxListKeys), encoding == "url");
    }

    private static string Encode(string value, bool url) => url ? Uri.EscapeDataString(value).Replace("%2F", "/", StringComparison.Ordinal) : value;

    private async Task ListObjectsV2Async(HttpContext context, string bucket)
    {
        var dir = RequireBucket(bucket);
        var query = context.Request.Query;
        var args = ListArgumentsOf(query);
        var token = query["continuation-token"].ToString();
        var startAfter = query["start-after"].ToString();
        var after = startAfter;
        if (query.ContainsKey("continuation-token"))
        {
            after = DecodeToken(token);
        }

        var page = LocalListing.List(dir, args.Prefix, args.Delimiter, after, args.MaxKeys, context.RequestAborted);
        var fetchOwner = string.Equals(query["fetch-owner"], "true", StringComparison.OrdinalIgnoreCase);
        await S3Xml.WriteAsync(context.Response, 200, "ListBucketResult", w =>
        {
            w.WriteElementString("Name", bucket);
            w.WriteElementString("Prefix", Encode(args.Prefix, args.UrlEncoded));
            if (args.Delimiter.Length > 0)
            {
                w.WriteElementString("Delimiter", Encode(args.Delimiter, args.UrlEncoded));
            }

            w.WriteElementString("MaxKeys", args.MaxKeys.ToString(CultureInfo.InvariantCulture));
            if (args.UrlEncoded)
            {
                w.WriteElementString("EncodingType", "url");
            }

            w.WriteElementString("KeyCount", page.Entries.Count.ToString(CultureInfo.InvariantCulture));
            w.WriteElementString("IsTruncated", page.IsTruncated ? "true" : "false");
            if (query.ContainsKey("continuation-token"))
            {
                w.WriteElementString("ContinuationToken", token);
            }

            if (page.IsTruncated)
            {
                w.WriteElementString("NextContinuationToken", EncodeToken(page.Entries[^1].Key));
            }

            if (startAfter.Length > 0)
            {
                w.WriteElementString("StartAfter", Encode(startAfter, args.UrlEncoded));
            }

            WriteEntries(w, page, args.UrlEncoded, fetchOwner);
        }).ConfigureAwait(false);
    }

    private async Task ListObjectsV1Async(HttpContext context, string bucket)
    {
        var dir = RequireBucket(bucket);
        var query = context.Request.Query;
        var args = ListArgumentsOf(query);
        var marker = query["marker"].ToString();
        var page = LocalListing.List(dir, args.Prefix, args.Delimiter, marker, args.MaxKeys, context.RequestAborted);
        await S3Xml.WriteAsync(context.Response, 200, "ListBucketResult", w =>
        {
            w.WriteElementString("Name", bucket);
            w.WriteElementString("Prefix", Encode(args.Prefix, args.UrlEncoded));
            w.WriteElementString("Marker", Encode(marker, args.UrlEncoded));
            if (page.IsTruncated && args.Delimiter.Length > 0)
            {
                w.WriteElementString("NextMarker", Encode(page.Entries[^1].Key, args.UrlEncoded));
            }

            w.WriteElementString("MaxKeys", args.MaxKeys.ToString(CultureInfo.InvariantCulture));
            if (args.Delimiter.Length > 0)
            {
                w.WriteElementString("Delimiter", Encode(args.Delimiter, args.UrlEncoded));
            }

            if (args.UrlEncoded)
            {
                w.WriteElementString("EncodingType", "url");
            }

            w.WriteElementString("IsTruncated", page.IsTruncated ? "true" : "false");
            WriteEntries(w, page, args.UrlEncoded, owner: true);
        }).ConfigureAwait(false);
    }

    private static void WriteEntries(XmlWriter w, ListingPage page, bool url, bool owner)
    {
        foreach (var entry in page.Entries.Where(e => !e.IsPrefix))
        {
            var file = entry.File!;
            var metadata = ObjectMetadata.Read(file.FullName);
            w.WriteStartElement("Contents");
            w.WriteElementString("Key", Encode(entry.Key, url));
            w.WriteElementString("LastModified", S3Xml.Time(file.LastWriteTimeUtc));
            w.WriteElementString("ETag", Quote(metadata?.ETag ?? ObjectMetadata.SyntheticETag(file.Length, file.LastWriteTimeUtc)));
            if (metadata?.ChecksumAlgorithm is { } algorithm)
            {
                w.WriteElementString("ChecksumAlgorithm", algorithm);
            }

            w.WriteElementString("Size", file.Length.ToString(CultureInfo.InvariantCulture));
            if (owner)
            {
                WriteOwner(w);
            }

            w.WriteElementString("StorageClass", "STANDARD");
            w.WriteEndElement();
        }

        foreach (var entry in page.Entries.Where(e => e.IsPrefix))
        {
            w.WriteStartElement("CommonPrefixes");
            w.WriteElementString("Prefix", Encode(entry.Key, url));
            w.WriteEndElement();
        }
    }

    // A continuation token is the last key (or common prefix) of the page it continues, made opaque.
    private static string EncodeToken(string key) => Convert.ToBase64String(Encoding.UTF8.GetBytes(key));

    private static string DecodeToken(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(token));
        }
        catch (FormatException)
        {
            throw S3Exception.InvalidArgument("The continuation token provided is incorrect", "continuation-token", token);
        }
    }
}
