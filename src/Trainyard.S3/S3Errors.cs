using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;
using Trainyard.Storage;

namespace Trainyard.S3;

/// <summary>
/// Turns SDK, HTTP and socket failures into <see cref="ObjectStoreException"/>s whose message names the
/// URI and the S3 error code in one line: the message becomes a job's FailureReason, so no stack traces.
/// </summary>
internal static class S3Errors
{
    public static ObjectStoreException Wrap(Exception e, string uri, Uri? endpoint)
    {
        switch (e)
        {
            case ObjectStoreException ose:
                return ose;
            case AmazonS3Exception s3:
                return new ObjectStoreException(Describe(uri, CodeOf(s3), s3.StatusCode, s3.Message), e);
            case S3ResponseException r:
                return new ObjectStoreException(Describe(uri, r.ErrorCode, r.StatusCode, r.S3Message), e);
            case AmazonServiceException service when service.InnerException is { } inner && IsNetwork(inner):
                return Unreachable(uri, endpoint, inner, e);
            case AmazonServiceException service:
                return new ObjectStoreException(Describe(uri, service.ErrorCode ?? "Error", service.StatusCode, service.Message), e);
            case AmazonClientException client:
                return new ObjectStoreException($"{uri}: {OneLine(client.Message)}", e);
            case OperationCanceledException:
                return new ObjectStoreException($"{uri}: the request timed out.", e);
            default:
                return IsNetwork(e)
                    ? Unreachable(uri, endpoint, e, e)
                    : new ObjectStoreException($"{uri}: {e.GetType().Name}: {OneLine(e.Message)}", e);
        }
    }

    public static bool IsNotFound(Exception e) => e switch
    {
        AmazonS3Exception s3 => s3.StatusCode == HttpStatusCode.NotFound,
        S3ResponseException r => r.StatusCode == HttpStatusCode.NotFound,
        _ => false,
    };

    private static bool IsNetwork(Exception e) => e is HttpRequestException or IOException or SocketException;

    private static ObjectStoreException Unreachable(string uri, Uri? endpoint, Exception network, Exception outer)
    {
        var root = network;
        while (root.InnerException is { } inner)
        {
            root = inner;
        }

        var what = root == network ? OneLine(network.Message) : $"{OneLine(network.Message)} ({OneLine(root.Message)})";
        var where = endpoint is null ? "S3" : $"the S3 endpoint {endpoint.GetLeftPart(UriPartial.Authority)}";
        return new ObjectStoreException($"{uri}: cannot reach {where}: {what}", outer);
    }

    // HEAD answers carry no body, so the SDK can only report the status; give it S3's name.
    private static string CodeOf(AmazonS3Exception e) =>
        !string.IsNullOrEmpty(e.ErrorCode) ? e.ErrorCode : e.StatusCode switch
        {
            HttpStatusCode.NotFound => "NotFound",
            HttpStatusCode.Forbidden => "AccessDenied",
            _ => ((int)e.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture),
        };

    private static string Describe(string uri, string code, HttpStatusCode status, string? message)
    {
        var hint = code switch
        {
            "NoSuchKey" => " (the object does not exist; was it deleted after it was listed?)",
            "NoSuchBucket" => " (the bucket does not exist)",
            "InvalidAccessKeyId" or "SignatureDoesNotMatch" => " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the profile)",
            _ => "",
        };
        var text = string.IsNullOrWhiteSpace(message) ? "" : ": " + OneLine(message);
        return $"{uri}: S3 error {code} (HTTP {(int)status}){text}{hint}";
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
