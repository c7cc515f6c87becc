using System.Text;

namespace Trainyard.Storage;

/// <summary>
/// Which bucket names and keys a directory store can hold. A key becomes a path below its bucket's
/// directory, so a key that a file system would read as something else — an empty segment
/// (<c>a//b</c>, a leading or trailing <c>/</c>), <c>.</c> or <c>..</c>, a NUL, a segment longer than a
/// file name may be, or the store's own <c>.trainyard-</c> names — is refused rather than normalised: it
/// could otherwise name another object, another bucket or a file outside the store.
/// </summary>
public static class ObjectKeys
{
    /// <summary>S3's limit on a key's length, in UTF-8 bytes.</summary>
    public const int MaxKeyBytes = 1024;

    private const int MaxSegmentBytes = 255;

    /// <summary>Why <paramref name="bucket"/> cannot be a directory of the store; null when it can.</summary>
    public static string? BucketProblem(string bucket)
    {
        if (bucket.Length == 0)
        {
            return "the bucket name is empty";
        }

        if (bucket.Contains('/', StringComparison.Ordinal) || bucket.Contains('\\', StringComparison.Ordinal) || bucket.Contains('\0', StringComparison.Ordinal))
        {
            return $"the bucket name '{bucket}' contains '/', '\\' or NUL";
        }

        if (bucket.StartsWith('.'))
        {
            return $"the bucket name '{bucket}' starts with '.'";
        }

        return Encoding.UTF8.GetByteCount(bucket) > MaxSegmentBytes ? "the bucket name is longer than 255 bytes" : null;
    }

    /// <summary>
    /// Why <paramref name="bucket"/> is not a valid name for a new bucket by S3's rules (3–63 characters of
    /// lower-case letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two
    /// adjacent dots, not an IP address); null when it is.
    /// </summary>
    public static string? NewBucketProblem(string bucket)
    {
        if (bucket.Length is < 3 or > 63)
        {
            return "Bucket names must be between 3 and 63 characters long.";
        }

        foreach (var c in bucket)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-'))
            {
                return "Bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-).";
            }
        }

        if (!char.IsAsciiLetterOrDigit(bucket[0]) || !char.IsAsciiLetterOrDigit(bucket[^1]))
        {
            return "Bucket names must begin and end with a letter or number.";
        }

        if (bucket.Contains("..", StringComparison.Ordinal))
        {
            return "Bucket names must not contain two adjacent periods.";
        }

        return System.Net.IPAddress.TryParse(bucket, out _) && bucket.Count(c => c == '.') == 3
            ? "Bucket names must not be formatted as an IP address."
            : null;
    }

    /// <summary>Why <paramref name="key"/> cannot name a file below its bucket's directory; null when it can.</summary>
    public static string? KeyProblem(string key)
    {
        if (key.Length == 0)
        {
            return "the key is empty";
        }

        if (Encoding.UTF8.GetByteCount(key) > MaxKeyBytes)
        {
            return $"the key is longer than {MaxKeyBytes} bytes";
        }

        if (key.Contains('\0', StringComparison.Ordinal))
        {
            return "the key contains a NUL character";
        }

        if (key[0] == '/')
        {
            return $"the key '{key}' begins with '/' (an absolute path)";
        }

        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0)
            {
                return $"the key '{key}' has an empty path segment ('//' or a trailing '/'), which a directory store cannot keep apart from the key without it";
            }

            if (segment is "." or "..")
            {
                return $"the key '{key}' has a '{segment}' path segment";
            }

            if (segment.StartsWith(".trainyard-", StringComparison.Ordinal))
            {
                return $"the key '{key}' has a segment beginning with '.trainyard-', which the store reserves for its own files";
            }

            if (Encoding.UTF8.GetByteCount(segment) > MaxSegmentBytes)
            {
                return $"the key '{key}' has a path segment longer than {MaxSegmentBytes} bytes";
            }
        }

        return null;
    }
}
