using System.Globalization;
using Microsoft.AspNetCore.Http;
using Trainyard.Storage;

namespace Trainyard.Api.S3;

public sealed partial class S3Api
{
    private async Task CreateMultipartUploadAsync(HttpContext context, string bucket, string key)
    {
        RequireBucket(bucket);
        var location = Location(bucket, key);
        var metadata = MetadataFrom(context.Request);
        var algorithm = context.Request.Headers["x-amz-checksum-algorithm"].ToString();
        if (algorithm.Length > 0 && !S3Checksums.Algorithms.Contains(algorithm.ToUpperInvariant()))
        {
            throw S3Exception.InvalidArgument($"Checksum algorithm '{algorithm}' is not one of CRC32, CRC32C, CRC64NVME, SHA1, SHA256.", "x-amz-checksum-algorithm", algorithm);
        }

        var upload = _uploads!.Create(location, metadata);
        EchoEncryption(context);
        if (algorithm.Length > 0)
        {
            context.Response.Headers["x-amz-checksum-algorithm"] = algorithm.ToUpperInvariant();
        }

        await S3Xml.WriteAsync(context.Response, 200, "InitiateMultipartUploadResult", w =>
        {
            w.WriteElementString("Bucket", bucket);
            w.WriteElementString("Key", key);
            w.WriteElementString("UploadId", upload.UploadId);
        }).ConfigureAwait(false);
    }

    private MultipartUpload UploadOf(HttpContext context, string bucket, string key)
    {
        RequireBucket(bucket);
        var location = Location(bucket, key);
        return _uploads!.Get(context.Request.Query["uploadId"].ToString(), location);
    }

    private async Task UploadPartAsync(HttpContext context, string bucket, string key)
    {
        var upload = UploadOf(context, bucket, key);
        var number = context.Request.Query["partNumber"].ToString();
        if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var partNumber) || partNumber is < 1 or > 10_000)
        {
            throw S3Exception.InvalidArgument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", number);
        }

        if (context.Request.Headers.ContainsKey("x-amz-copy-source"))
        {
            throw new S3Exception("NotImplemented", 501, "UploadPartCopy is not implemented by Trainyard's embedded store: copy the object with CopyObject (up to 5 GiB).");
        }

        using var target = _uploads!.BeginPart(upload, partNumber, S3Payload.AnnouncedLength(context.Request));
        {
            var payload = await S3Payload.ReceiveAsync(context.Request, target.Handle, target.Offset, context.RequestAborted).ConfigureAwait(false);
            _uploads.CommitPart(upload, partNumber, target, payload.Md5Hex, payload.Size);
            context.Response.Headers.ETag = Quote(payload.Md5Hex);
            if (payload.ChecksumAlgorithm is { } algorithm)
            {
                context.Response.Headers[S3Checksums.HeaderOf(algorithm)] = payload.Checksum;
            }

            EchoEncryption(context);
            context.Response.StatusCode = 200;
            context.Response.ContentLength = 0;
        }
    }

    private async Task CompleteMultipartUploadAsync(HttpContext context, string bucket, string key)
    {
        var upload = UploadOf(context, bucket, key);
        var document = await S3Xml.ReadAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        if (document.Name.LocalName != "CompleteMultipartUpload")
        {
            throw S3Exception.MalformedXml($"the root element is <{document.Name.LocalName}>, not <CompleteMultipartUpload>.");
        }

        var parts = new List<(int, string)>();
        foreach (var part in document.Children("Part"))
        {
            var number = part.ChildValue("PartNumber");
            var etag = part.ChildValue("ETag");
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || etag is null)
            {
                throw S3Exception.MalformedXml("every <Part> needs a numeric <PartNumber> and an <ETag>.");
            }

            parts.Add((n, etag));
        }

        if (parts.Count > 10_000)
        {
            throw S3Exception.MalformedXml("a multipart upload has at most 10,000 parts.");
        }

        var (objectEtag, _) = await _uploads!.CompleteAsync(upload, parts, context.RequestAborted).ConfigureAwait(false);
        EchoEncryption(context);
        var request = context.Request;
        await S3Xml.WriteAsync(context.Response, 200, "CompleteMultipartUploadResult", w =>
        {
            w.WriteElementString("Location", $"{request.Scheme}://{request.Host}/{bucket}/{Uri.EscapeDataString(key).Replace("%2F", "/", StringComparison.Ordinal)}");
            w.WriteElementString("Bucket", bucket);
            w.WriteElementString("Key", key);
            w.WriteElementString("ETag", Quote(objectEtag));
        }).ConfigureAwait(false);
    }

    private Task AbortMultipartUploadAsync(HttpContext context, string bucket, string key)
    {
        var upload = UploadOf(context, bucket, key);
        _uploads!.Abort(upload);
        context.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    private Task ListPartsAsync(HttpContext context, string bucket, string key)
    {
        var upload = UploadOf(context, bucket, key);
        var query = context.Request.Query;
        var marker = 0;
        if (query["part-number-marker"] is { Count: > 0 } m && !int.TryParse(m.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out marker))
        {
            throw S3Exception.InvalidArgument("part-number-marker must be an integer.", "part-number-marker", m.ToString());
        }

        var max = 1000;
        if (query["max-parts"] is { Count: > 0 } mp && (!int.TryParse(mp.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out max) || max < 1))
        {
            throw S3Exception.InvalidArgument("max-parts must be a positive integer.", "max-parts", mp.ToString());
        }

        max = Math.Min(max, 1000);
        var all = _uploads!.Parts(upload).Where(p => p.PartNumber > marker).ToList();
        var page = all.Take(max).ToList();
        var truncated = all.Count > page.Count;
        return S3Xml.WriteAsync(context.Response, 200, "ListPartsResult", w =>
        {
            w.WriteElementString("Bucket", bucket);
            w.WriteElementString("Key", key);
            w.WriteElementString("UploadId", upload.UploadId);
            w.WriteElementString("PartNumberMarker", marker.ToString(CultureInfo.InvariantCulture));
            if (page.Count > 0)
            {
                w.WriteElementString("NextPartNumberMarker", page[^1].PartNumber.ToString(CultureInfo.InvariantCulture));
            }

            w.WriteElementString("MaxParts", max.ToString(CultureInfo.InvariantCulture));
            w.WriteElementString("IsTruncated", truncated ? "true" : "false");
            w.WriteElementString("StorageClass", "STANDARD");
            foreach (var part in page)
            {
                w.WriteStartElement("Part");
                w.WriteElementString("PartNumber", part.PartNumber.ToString(CultureInfo.InvariantCulture));
                w.WriteElementString("LastModified", S3Xml.Time(part.LastModified));
                w.WriteElementString("ETag", Quote(part.ETag));
                w.WriteElementString("Size", part.Size.ToString(CultureInfo.InvariantCulture));
                w.WriteEndElement();
            }
        });
    }

    private Task ListMultipartUploadsAsync(HttpContext context, string bucket)
    {
        RequireBucket(bucket);
        var prefix = context.Request.Query["prefix"].ToString();
        var uploads = _uploads!.List(bucket).Where(u => u.Key.StartsWith(prefix, StringComparison.Ordinal)).Take(1000).ToList();
        return S3Xml.WriteAsync(context.Response, 200, "ListMultipartUploadsResult", w =>
        {
            w.WriteElementString("Bucket", bucket);
            w.WriteElementString("KeyMarker", "");
            w.WriteElementString("UploadIdMarker", "");
            w.WriteElementString("Prefix", prefix);
            w.WriteElementString("MaxUploads", "1000");
            w.WriteElementString("IsTruncated", "false");
            foreach (var upload in uploads)
            {
                w.WriteStartElement("Upload");
                w.WriteElementString("Key", upload.Key);
                w.WriteElementString("UploadId", upload.UploadId);
                WriteOwner(w);
                w.WriteElementString("StorageClass", "STANDARD");
                w.WriteElementString("Initiated", S3Xml.Time(upload.Initiated));
                w.WriteEndElement();
            }
        });
    }
}
