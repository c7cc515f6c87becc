namespace Trainyard.Storage;

/// <summary>
/// A bucket and key: <c>s3://bucket/key</c> (or <c>https://host/bucket/key</c>, path style). A
/// <c>file:///dir</c> URI, as SageMaker's local mode accepts, is a location in the local file system:
/// its bucket is empty and its key is the absolute path.
/// </summary>
public readonly record struct S3Location(string Bucket, string Key)
{
    public bool IsFile => Bucket.Length == 0;

    public static S3Location Parse(string uri)
    {
        if (TryParse(uri, out var location))
        {
            return location;
        }

        throw new FormatException($"'{uri}' is not an S3 URI (s3://bucket/key).");
    }

    public static bool TryParse(string uri, out S3Location location)
    {
        location = default;
        if (uri.StartsWith("s3://", StringComparison.Ordinal))
        {
            var rest = uri[5..];
            var slash = rest.IndexOf('/', StringComparison.Ordinal);
            var bucket = slash < 0 ? rest : rest[..slash];
            if (bucket.Length == 0)
            {
                return false;
            }

            location = new S3Location(bucket, slash < 0 ? "" : rest[(slash + 1)..]);
            return true;
        }

        if (uri.StartsWith("https://", StringComparison.Ordinal) && Uri.TryCreate(uri, UriKind.Absolute, out var https))
        {
            var path = Uri.UnescapeDataString(https.AbsolutePath.TrimStart('/'));
            var slash = path.IndexOf('/', StringComparison.Ordinal);
            if (path.Length == 0)
            {
                return false;
            }

            location = new S3Location(slash < 0 ? path : path[..slash], slash < 0 ? "" : path[(slash + 1)..]);
            return true;
        }

        if (uri.StartsWith("file:///", StringComparison.Ordinal))
        {
            location = new S3Location("", uri[7..]);
            return true;
        }

        return false;
    }

    /// <summary>The location of <paramref name="relative"/> below this one, as a prefix joins a key.</summary>
    public S3Location Append(string relative) =>
        new(Bucket, Key.Length == 0 || Key.EndsWith('/') ? Key + relative : Key + "/" + relative);

    public override string ToString() => IsFile ? "file://" + Key : $"s3://{Bucket}/{Key}";
}
