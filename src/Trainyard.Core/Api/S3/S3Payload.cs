using System.Buffers;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Trainyard.Api.S3;

/// <summary>What a received object body was: its size, MD5 and flexible checksum.</summary>
public sealed record ReceivedPayload(long Size, byte[] Md5, string? ChecksumAlgorithm, string? Checksum)
{
    public string Md5Hex => Convert.ToHexStringLower(Md5);
}

/// <summary>
/// Receives an object's bytes from a PutObject or UploadPart request into a file, in every payload form
/// the SDKs send (a signed payload's SHA-256, <c>UNSIGNED-PAYLOAD</c>, the <c>STREAMING-*</c> aws-chunked
/// forms with or without a trailer), checking what the request claims as the bytes arrive —
/// <c>Content-MD5</c>, <c>x-amz-content-sha256</c>, <c>x-amz-decoded-content-length</c>, an
/// <c>x-amz-checksum-*</c> header or trailer — so that a body that does not match is refused before
/// anything is stored.
/// </summary>
public static class S3Payload
{
    /// <summary>S3's largest single PUT (and part): 5 GiB.</summary>
    public const long MaxObjectBytes = 5L << 30;

    private const int BufferBytes = 1 << 20;

    /// <summary>The object's length as the request announces it (<c>x-amz-decoded-content-length</c> for an aws-chunked body).</summary>
    public static long? AnnouncedLength(HttpRequest request) =>
        request.Headers["x-amz-content-sha256"].ToString().StartsWith("STREAMING-", StringComparison.Ordinal)
            ? long.TryParse(request.Headers["x-amz-decoded-content-length"].ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n : null
            : request.ContentLength;

    /// <summary>Receives the body into <paramref name="file"/> from <paramref name="offset"/> on.</summary>
    public static async Task<ReceivedPayload> ReceiveAsync(HttpRequest request, Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, CancellationToken cancellationToken)
    {
        var headers = request.Headers;
        var sha256Header = headers["x-amz-content-sha256"].ToString();
        var streaming = sha256Header.StartsWith("STREAMING-", StringComparison.Ordinal);
        long? expected = request.ContentLength;
        if (streaming)
        {
            if (!long.TryParse(headers["x-amz-decoded-content-length"].ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var decoded))
            {
                throw new S3Exception("MissingContentLength", 411, "You must provide the x-amz-decoded-content-length HTTP header with an aws-chunked body.");
            }

            expected = decoded;
        }
        else if (expected is null && !string.Equals(headers.TransferEncoding.ToString(), "chunked", StringComparison.OrdinalIgnoreCase))
        {
            throw new S3Exception("MissingContentLength", 411, "You must provide the Content-Length HTTP header.");
        }

        if (expected > MaxObjectBytes)
        {
            throw new S3Exception("EntityTooLarge", 400, $"Your proposed upload exceeds the maximum allowed size: {expected} bytes, where a single PUT may be at most 5 GiB (use a multipart upload).");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        byte[]? contentMd5 = null;
        if (headers["Content-MD5"].ToString() is { Length: > 0 } md5Header)
        {
            contentMd5 = new byte[16];
            if (!Convert.TryFromBase64String(md5Header, contentMd5, out var n) || n != 16)
            {
                throw new S3Exception("InvalidDigest", 400, "The Content-MD5 you specified was invalid.");
            }
        }

        // A signed payload's SHA-256 is checked unless a Content-MD5 is: the MD5 already proves the bytes are
        // the ones the client sent (it is a signed header too), and the AWS CLI sends both with every part,
        // where hashing each byte twice more cost a fifth of the server's CPU per upload.
        byte[]? contentSha256 = null;
        if (sha256Header.Length == 64)
        {
            contentSha256 = Convert.FromHexString(sha256Header);
            if (contentMd5 is not null)
            {
                contentSha256 = null;
            }
        }
        else if (sha256Header.Length > 0 && sha256Header != "UNSIGNED-PAYLOAD" && !streaming)
        {
            throw new S3Exception("InvalidArgument", 400, $"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-*, or a SHA-256 in hex; it is '{sha256Header}'.");
        }

        // The flexible checksum: a value in a header, or an algorithm announced for a trailer.
        string? algorithm = null, claimed = null;
        foreach (var header in headers)
        {
            if (S3Checksums.AlgorithmOf(header.Key) is { } a)
            {
                algorithm = a;
                claimed = header.Value.ToString();
            }
        }

        var trailer = headers["x-amz-trailer"].ToString();
        if (trailer.Length > 0)
        {
            algorithm = S3Checksums.AlgorithmOf(trailer.Trim())
                ?? throw new S3Exception("InvalidRequest", 400, $"The trailer '{trailer}' is not a checksum S3 knows (x-amz-checksum-crc32, -crc32c, -crc64nvme, -sha1, -sha256).");
        }

        var checksum = algorithm is null ? null : S3Checksums.Create(algorithm);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        using var sha256 = contentSha256 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var body = request.Body;
        var chunked = streaming ? new AwsChunkedStream(body, sha256Header.StartsWith("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", StringComparison.Ordinal) ? request.HttpContext.Features.Get<Auth.VerifiedSignature>() : null) : null;
        var source = chunked ?? body;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        long size = 0;
        try
        {
            while (true)
            {
                // Fill the buffer before hashing and writing it: fewer, larger writes.
                var filled = 0;
                int n;
                while (filled < BufferBytes && (n = await source.ReadAsync(buffer.AsMemory(filled, BufferBytes - filled), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    filled += n;
                }

                if (filled == 0)
                {
                    break;
                }

                size += filled;
                if (size > MaxObjectBytes)
                {
                    throw new S3Exception("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size of 5 GiB for a single PUT.");
                }

                var data = buffer.AsMemory(0, filled);
                var write = RandomAccess.WriteAsync(file, data, offset + size - filled, cancellationToken);
                md5.AppendData(data.Span);
                sha256?.AppendData(data.Span);
                checksum?.Append(data.Span);
                await write.ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (expected is { } length && size != length)
        {
            throw new S3Exception("IncompleteBody", 400, $"You did not provide the number of bytes specified by the {(streaming ? "x-amz-decoded-content-length" : "Content-Length")} HTTP header: {length} were announced, {size} arrived.");
        }

        var digest = md5.GetHashAndReset();
        if (contentMd5 is not null && !CryptographicOperations.FixedTimeEquals(contentMd5, digest))
        {
            throw S3Exception.BadDigest("Content-MD5");
        }

        if (sha256 is not null && !CryptographicOperations.FixedTimeEquals(contentSha256!, sha256.GetHashAndReset()))
        {
            throw new S3Exception("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.");
        }

        string? value = null;
        if (checksum is not null)
        {
            value = checksum.Base64();
            if (trailer.Length > 0)
            {
                if (chunked is null || !chunked.Trailers.TryGetValue(trailer.Trim(), out var sent))
                {
                    throw new S3Exception("InvalidRequest", 400, $"The request announced the trailer {trailer} and did not send it.");
                }

                claimed = sent;
            }

            if (claimed != value)
            {
                throw S3Exception.BadDigest(algorithm!);
            }
        }

        return new ReceivedPayload(size, digest, algorithm, value);
    }
}
