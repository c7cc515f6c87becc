using System.Net;

namespace Trainyard.S3;

/// <summary>An S3 error answer to a request sent outside the SDK (a presigned ranged GET).</summary>
internal sealed class S3ResponseException(HttpStatusCode statusCode, string errorCode, string? s3Message)
    : Exception($"{errorCode} ({(int)statusCode}){(string.IsNullOrEmpty(s3Message) ? "" : ": " + s3Message)}")
{
    public HttpStatusCode StatusCode { get; } = statusCode;

    public string ErrorCode { get; } = errorCode;

    public string? S3Message { get; } = s3Message;
}
