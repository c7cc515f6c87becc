using Microsoft.AspNetCore.Http;

namespace Trainyard.Api;

/// <summary>
/// What a request's AWS signature says about it, parsed once per request by <see cref="AwsEndpoint"/>
/// from the <c>Authorization</c> header or a presigned URL's query: the access key and, for SigV4, the
/// credential scope (<c>AKID/20240101/us-east-1/s3/aws4_request</c>) whose service routes the request.
/// Signatures are not verified yet; the verifier goes in <see cref="AwsEndpoint"/>, in front of every
/// protocol, and reads everything it needs from here.
/// </summary>
public sealed record AwsSignature
{
    public const string SigV4 = "AWS4-HMAC-SHA256";

    /// <summary><c>AWS4-HMAC-SHA256</c>, or <c>AWS</c> for a SigV2 signature.</summary>
    public required string Algorithm { get; init; }

    public required string AccessKeyId { get; init; }

    /// <summary>The scope's date (<c>yyyyMMdd</c>), region and service; null for SigV2.</summary>
    public string? ScopeDate { get; init; }

    public string? Region { get; init; }

    public string? Service { get; init; }

    /// <summary>The headers the signature covers, lower case, in the order given.</summary>
    public IReadOnlyList<string> SignedHeaders { get; init; } = [];

    public string? Signature { get; init; }

    /// <summary>The request time (<c>X-Amz-Date</c>) as sent.</summary>
    public string? RequestTime { get; init; }

    /// <summary>The signature is in the query (a presigned URL) rather than in a header.</summary>
    public bool Presigned { get; init; }

    /// <summary>A presigned URL's lifetime in seconds as sent (<c>X-Amz-Expires</c>, or SigV2's <c>Expires</c> epoch).</summary>
    public string? Expires { get; init; }

    /// <summary>Parses the request's signature; null when it carries none. <paramref name="problem"/> says what is malformed.</summary>
    public static AwsSignature? Parse(HttpRequest request, out string? problem)
    {
        problem = null;
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(SigV4 + " ", StringComparison.Ordinal))
        {
            string? credential = null, signedHeaders = null, signature = null;
            foreach (var part in authorization[(SigV4.Length + 1)..].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    continue;
                }

                var value = part[(eq + 1)..];
                switch (part[..eq])
                {
                    case "Credential":
                        credential = value;
                        break;
                    case "SignedHeaders":
                        signedHeaders = value;
                        break;
                    case "Signature":
                        signature = value;
                        break;
                }
            }

            return FromScope(credential, signedHeaders, signature, request.Headers["X-Amz-Date"].ToString(), presigned: false, expires: null, out problem);
        }

        if (authorization.StartsWith("AWS ", StringComparison.Ordinal))
        {
            var colon = authorization.IndexOf(':', 4);
            if (colon < 0)
            {
                problem = "The Authorization header is malformed: expected 'AWS AccessKeyId:Signature'.";
                return null;
            }

            return new AwsSignature { Algorithm = "AWS", AccessKeyId = authorization[4..colon], Signature = authorization[(colon + 1)..], RequestTime = request.Headers.Date.ToString() };
        }

        var query = request.Query;
        if (query["X-Amz-Algorithm"].ToString() is { Length: > 0 } algorithm)
        {
            if (algorithm != SigV4)
            {
                problem = $"X-Amz-Algorithm '{algorithm}' is not supported; use {SigV4}.";
                return null;
            }

            return FromScope(query["X-Amz-Credential"].ToString(), query["X-Amz-SignedHeaders"].ToString(), query["X-Amz-Signature"].ToString(),
                query["X-Amz-Date"].ToString(), presigned: true, expires: query["X-Amz-Expires"].ToString(), out problem);
        }

        if (query["AWSAccessKeyId"].ToString() is { Length: > 0 } v2Key)
        {
            return new AwsSignature { Algorithm = "AWS", AccessKeyId = v2Key, Signature = query["Signature"].ToString(), Presigned = true, Expires = query["Expires"].ToString() };
        }

        if (authorization.Length > 0)
        {
            problem = "The Authorization header is not an AWS signature (AWS4-HMAC-SHA256 or AWS).";
        }

        return null;
    }

    private static AwsSignature? FromScope(string? credential, string? signedHeaders, string? signature, string requestTime, bool presigned, string? expires, out string? problem)
    {
        // AKID/yyyyMMdd/region/service/aws4_request; the key itself may not contain '/'.
        var parts = credential?.Split('/') ?? [];
        if (parts is not [{ Length: > 0 } key, { Length: 8 } date, { Length: > 0 } region, { Length: > 0 } service, "aws4_request"])
        {
            problem = $"The credential '{credential}' is malformed: expected AccessKeyId/yyyyMMdd/region/service/aws4_request.";
            return null;
        }

        problem = null;
        return new AwsSignature
        {
            Algorithm = SigV4,
            AccessKeyId = key,
            ScopeDate = date,
            Region = region,
            Service = service,
            SignedHeaders = string.IsNullOrEmpty(signedHeaders) ? [] : signedHeaders.Split(';'),
            Signature = signature,
            RequestTime = requestTime.Length > 0 ? requestTime : null,
            Presigned = presigned,
            Expires = string.IsNullOrEmpty(expires) ? null : expires,
        };
    }
}
