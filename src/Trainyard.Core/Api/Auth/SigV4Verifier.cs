using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Trainyard.Api.Auth;

/// <summary>Why a request was refused, before each protocol words it in its own errors.</summary>
public enum AuthFailure
{
    /// <summary>No signature at all.</summary>
    Missing,

    /// <summary>A signature this server does not accept (SigV2, a malformed header, a region of another server).</summary>
    Malformed,

    /// <summary>An access key no credentials file gives.</summary>
    UnknownKey,

    /// <summary>The signature does not match the request.</summary>
    BadSignature,

    /// <summary>The request's time is more than 5 minutes from the server's.</summary>
    Skewed,

    /// <summary>A presigned URL past its expiry.</summary>
    Expired,
}

/// <summary>A verified signature: who signed, and what an aws-chunked body's chunk signatures chain from.</summary>
public sealed record VerifiedSignature(string AccessKeyId, byte[] SigningKey, string RequestTime, string Scope, string SeedSignature);

/// <summary>
/// Verifies AWS Signature Version 4 the way AWS does: the canonical request (method, path — as sent for
/// S3, normalised and encoded again for the other services —, sorted canonical query, the signed headers,
/// the payload's hash), the string to sign for the credential scope, the signing key derived from the
/// identity's secret, compared in constant time; the request time within 5 minutes of the server's;
/// presigned URLs within <c>X-Amz-Expires</c>.
/// </summary>
public sealed class SigV4Verifier(CredentialFiles credentials, TimeProvider time)
{
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(5);

    /// <summary>Verifies <paramref name="signature"/>; <paramref name="payloadHash"/> is the hex SHA-256 of the body or the value S3's x-amz-content-sha256 claims.</summary>
    public (VerifiedSignature? Verified, AuthFailure Failure, string Message) Verify(HttpRequest request, AwsSignature? signature, string payloadHash, bool s3)
    {
        if (signature is null)
        {
            return (null, AuthFailure.Missing, "Missing Authentication Token");
        }

        if (signature.Algorithm != AwsSignature.SigV4 || signature.Signature is not { Length: 64 } || signature.ScopeDate is null || signature.RequestTime is null)
        {
            return (null, AuthFailure.Malformed, "Only AWS Signature Version 4 (AWS4-HMAC-SHA256) with X-Amz-Date is accepted.");
        }

        if (credentials.SecretOf(signature.AccessKeyId) is not { } secret)
        {
            return (null, AuthFailure.UnknownKey, "The security token included in the request is invalid.");
        }

        if (!DateTimeOffset.TryParseExact(signature.RequestTime, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var requestTime))
        {
            return (null, AuthFailure.Malformed, $"X-Amz-Date '{signature.RequestTime}' is not yyyyMMddTHHmmssZ.");
        }

        var now = time.GetUtcNow();
        if (signature.Presigned)
        {
            if (!int.TryParse(signature.Expires, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds is < 1 or > 604800)
            {
                return (null, AuthFailure.Malformed, "X-Amz-Expires must be a number of seconds from 1 to 604800.");
            }

            if (now > requestTime.AddSeconds(seconds))
            {
                return (null, AuthFailure.Expired, "Request has expired");
            }

            if (requestTime - now > MaxSkew)
            {
                return (null, AuthFailure.Skewed, "Request is not yet valid");
            }
        }
        else if ((now - requestTime).Duration() > MaxSkew)
        {
            return (null, AuthFailure.Skewed,
                $"Signature expired: {signature.RequestTime} is now earlier than {(now - MaxSkew).UtcDateTime:yyyyMMdd'T'HHmmss'Z'} ({now.UtcDateTime:yyyyMMdd'T'HHmmss'Z'} - 5 min.)");
        }

        if (!signature.SignedHeaders.Contains("host"))
        {
            return (null, AuthFailure.BadSignature, "The request signature must cover the host header.");
        }

        var canonical = CanonicalRequest(request, signature, payloadHash, s3);
        var scope = $"{signature.ScopeDate}/{signature.Region}/{signature.Service}/aws4_request";
        var stringToSign = $"{AwsSignature.SigV4}\n{signature.RequestTime}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))}";
        var key = SigningKey(secret, signature.ScopeDate, signature.Region!, signature.Service!);
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(stringToSign));
        var given = new byte[32];
        if (Convert.FromHexString(signature.Signature, given, out _, out var written) != System.Buffers.OperationStatus.Done || written != 32 || !CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return (null, AuthFailure.BadSignature,
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.");
        }

        return (new VerifiedSignature(signature.AccessKeyId, key, signature.RequestTime, scope, signature.Signature), default, "");
    }

    public static byte[] SigningKey(string secret, string date, string region, string service)
    {
        var key = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secret), Encoding.UTF8.GetBytes(date));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(region));
        key = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(key, "aws4_request"u8);
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    internal static string CanonicalRequest(HttpRequest request, AwsSignature signature, string payloadHash, bool s3)
    {
        var raw = request.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (request.Path + request.QueryString);
        var q = raw.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? raw : raw[..q];
        var query = q < 0 ? "" : raw[(q + 1)..];
        if (path.Length == 0)
        {
            path = "/";
        }

        // S3 signs the path as sent; the other services sign it normalised and encoded once more.
        var canonicalPath = s3 ? path : EncodePath(NormalizePath(path));
        var pairs = new List<(string Key, string Value)>();
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            var k = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            var v = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..]);
            if (signature.Presigned && k == "X-Amz-Signature")
            {
                continue;
            }

            pairs.Add((Encode(k), Encode(v)));
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key) is var c and not 0 ? c : string.CompareOrdinal(a.Value, b.Value));
        var sb = new StringBuilder();
        sb.Append(request.Method).Append('\n').Append(canonicalPath).Append('\n');
        sb.AppendJoin('&', pairs.Select(p => p.Key + "=" + p.Value)).Append('\n');
        foreach (var name in signature.SignedHeaders)
        {
            var value = name == "host" ? request.Host.Value : string.Join(',', request.Headers[name].Select(v => CollapseSpaces(v ?? "")));
            sb.Append(name).Append(':').Append(value).Append('\n');
        }

        sb.Append('\n').AppendJoin(';', signature.SignedHeaders).Append('\n').Append(payloadHash);
        return sb.ToString();
    }

    private static string CollapseSpaces(string value)
    {
        var trimmed = value.Trim();
        if (!trimmed.Contains("  ", StringComparison.Ordinal))
        {
            return trimmed;
        }

        var sb = new StringBuilder(trimmed.Length);
        foreach (var c in trimmed)
        {
            if (c != ' ' || sb.Length == 0 || sb[^1] != ' ')
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }

    /// <summary>RFC 3986 encoding as SigV4 wants it: every byte but unreserved characters as %XX, upper-case hex.</summary>
    public static string Encode(string value)
    {
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            if (b is (>= (byte)'A' and <= (byte)'Z') or (>= (byte)'a' and <= (byte)'z') or (>= (byte)'0' and <= (byte)'9') or (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    private static string EncodePath(string path) => string.Join('/', path.Split('/').Select(Encode));

    private static string NormalizePath(string path)
    {
        var segments = new List<string>();
        foreach (var segment in path.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue;
            }

            if (segment == "..")
            {
                if (segments.Count > 0)
                {
                    segments.RemoveAt(segments.Count - 1);
                }

                continue;
            }

            segments.Add(segment);
        }

        var normalized = "/" + string.Join('/', segments);
        return path.EndsWith('/') && normalized.Length > 1 ? normalized + "/" : normalized;
    }
}
