using System.Text.Json;
using System.Text.Json.Serialization;
using Trainyard.Interop;

namespace Trainyard.Storage;

/// <summary>
/// What S3 keeps beside an object's bytes — its ETag, Content-Type, <c>x-amz-meta-*</c> and a flexible
/// checksum — kept by the local store in one extended attribute of the object's file
/// (<c>user.trainyard.s3</c>), written to the temporary file before it is renamed into place so that
/// bytes and metadata appear together. Files that were put into the store directory by other means
/// (job artifacts, a user's copy) have none: they get a stable ETag made from their size and time.
/// </summary>
public sealed record ObjectMetadata
{
    public const string AttributeName = "user.trainyard.s3";

    /// <summary>The ETag without quotes: the MD5 in hex, or <c>&lt;md5-of-md5s&gt;-N</c> for a multipart upload.</summary>
    [JsonPropertyName("etag")]
    public string? ETag { get; init; }

    [JsonPropertyName("contentType")]
    public string? ContentType { get; init; }

    /// <summary>The <c>x-amz-meta-*</c> headers, names lower case without the prefix.</summary>
    [JsonPropertyName("meta")]
    public Dictionary<string, string>? UserMetadata { get; init; }

    /// <summary>The flexible checksum the object was uploaded with: algorithm (<c>CRC32</c>, …) and its base64 value.</summary>
    [JsonPropertyName("checksumAlgorithm")]
    public string? ChecksumAlgorithm { get; init; }

    [JsonPropertyName("checksum")]
    public string? Checksum { get; init; }

    /// <summary>The parts of a multipart upload's object (S3 returns it as <c>x-amz-mp-parts-count</c>).</summary>
    [JsonPropertyName("parts")]
    public int? PartsCount { get; init; }

    /// <summary>Reads the metadata of the file at <paramref name="path"/>; null when it has none or it cannot be read.</summary>
    public static ObjectMetadata? Read(string path)
    {
        var bytes = Libc.ReadXattr(path, AttributeName);
        if (bytes is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(bytes, StorageJsonContext.Default.ObjectMetadata);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Writes the metadata onto the file at <paramref name="path"/>. False when the file system keeps no
    /// extended attributes (the object then has the size-and-time ETag and no stored headers).
    /// </summary>
    public bool TryWrite(string path)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(this, StorageJsonContext.Default.ObjectMetadata);
        if (Libc.SetXattr(path, AttributeName, bytes, (nuint)bytes.Length, 0) == 0)
        {
            return true;
        }

        var errno = Libc.LastError;
        if (errno is Libc.EOPNOTSUPP or Libc.ENOSPC or Libc.E2BIG)
        {
            return false;
        }

        throw new ObjectStoreException($"Cannot keep the metadata of {path}: {Libc.Describe(errno)}.");
    }

    /// <summary>The ETag of a file without stored metadata: stable while the file is unchanged, and never mistaken for an MD5.</summary>
    public static string SyntheticETag(long size, DateTimeOffset lastModified) =>
        $"{lastModified.UtcTicks:x16}{size:x16}-1";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ObjectMetadata))]
[JsonSerializable(typeof(MultipartUploadRecord))]
internal sealed partial class StorageJsonContext : JsonSerializerContext;
