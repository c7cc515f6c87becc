namespace Trainyard.Api.S3;

/// <summary>An S3 error: its code (<c>NoSuchKey</c>, …), HTTP status and message, answered as S3's XML (or a bare status to a HEAD).</summary>
public sealed class S3Exception(string code, int status, string message) : Exception(message)
{
    public string Code { get; } = code;

    public int Status { get; } = status;

    /// <summary>Extra elements of the error document (<c>BucketName</c>, <c>Key</c>, <c>UploadId</c>).</summary>
    public List<(string Name, string Value)> Details { get; } = [];

    public S3Exception With(string name, string? value)
    {
        if (value is not null)
        {
            Details.Add((name, value));
        }

        return this;
    }

    public static S3Exception NoSuchBucket(string bucket) =>
        new S3Exception("NoSuchBucket", 404, "The specified bucket does not exist").With("BucketName", bucket);

    public static S3Exception NoSuchKey(string key) =>
        new S3Exception("NoSuchKey", 404, "The specified key does not exist.").With("Key", key);

    public static S3Exception InvalidArgument(string message, string? name = null, string? value = null) =>
        new S3Exception("InvalidArgument", 400, message).With("ArgumentName", name).With("ArgumentValue", value);

    public static S3Exception MalformedXml(string detail) =>
        new("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema: " + detail);

    public static S3Exception BadDigest(string what) =>
        new("BadDigest", 400, $"The {what} you specified did not match the calculated checksum.");
}
