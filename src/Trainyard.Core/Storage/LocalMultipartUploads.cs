using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Win32.SafeHandles;
using Trainyard.Interop;

namespace Trainyard.Storage;

/// <summary>What a multipart upload in progress is for, kept in its directory as <c>upload.json</c>.</summary>
internal sealed record MultipartUploadRecord
{
    [JsonPropertyName("bucket")]
    public required string Bucket { get; init; }

    [JsonPropertyName("key")]
    public required string Key { get; init; }

    [JsonPropertyName("initiated")]
    public required DateTimeOffset Initiated { get; init; }

    [JsonPropertyName("metadata")]
    public required ObjectMetadata Metadata { get; init; }
}

/// <summary>One uploaded part: its number, size, ETag (the part's MD5 in hex) and time.</summary>
public sealed record UploadedPart(int PartNumber, long Size, string ETag, DateTimeOffset LastModified);

/// <summary>A multipart upload in progress.</summary>
public sealed record MultipartUpload(string UploadId, string Bucket, string Key, DateTimeOffset Initiated, ObjectMetadata Metadata);

/// <summary>Why a CompleteMultipartUpload cannot be done, in S3's terms.</summary>
public sealed class MultipartException(string code, string message) : Exception(message)
{
    /// <summary>S3's error code: <c>NoSuchUpload</c>, <c>InvalidPart</c>, <c>InvalidPartOrder</c>, <c>EntityTooSmall</c>.</summary>
    public string Code { get; } = code;
}

/// <summary>
/// Multipart uploads of the local store, S3's way: each part is a file of its own in the upload's
/// directory under the store's temporary directory (a part uploaded again replaces the earlier one), and
/// completing concatenates the chosen parts in the kernel (<c>copy_file_range</c>) into one temporary
/// file that is renamed into place with the multipart ETag (<c>&lt;md5 of the parts' md5s&gt;-N</c>).
/// </summary>
public sealed class LocalMultipartUploads(LocalObjectStore store)
{
    /// <summary>Smallest part S3 accepts, except the last.</summary>
    public const long MinimumPartSize = 5L << 20;

    private const string UploadFile = "upload.json";

    private string UploadsRoot => Path.Combine(store.TempDirectory, "uploads");

    private string DirectoryOf(string uploadId) =>
        uploadId.Length == 32 && uploadId.All(char.IsAsciiHexDigitLower)
            ? Path.Combine(UploadsRoot, uploadId)
            : throw new MultipartException("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");

    public MultipartUpload Create(S3Location location, ObjectMetadata metadata)
    {
        store.PathOf(location);
        var id = Guid.NewGuid().ToString("N");
        var dir = Path.Combine(UploadsRoot, id);
        Directory.CreateDirectory(dir);
        var record = new MultipartUploadRecord { Bucket = location.Bucket, Key = location.Key, Initiated = DateTimeOffset.UtcNow, Metadata = metadata };
        File.WriteAllBytes(Path.Combine(dir, UploadFile), JsonSerializer.SerializeToUtf8Bytes(record, StorageJsonContext.Default.MultipartUploadRecord));
        return new MultipartUpload(id, location.Bucket, location.Key, record.Initiated, metadata);
    }

    /// <summary>The upload, checked to be for <paramref name="location"/>.</summary>
    /// <exception cref="MultipartException">NoSuchUpload.</exception>
    public MultipartUpload Get(string uploadId, S3Location location)
    {
        var dir = DirectoryOf(uploadId);
        MultipartUploadRecord? record = null;
        try
        {
            record = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, UploadFile)), StorageJsonContext.Default.MultipartUploadRecord);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
        }

        if (record is null || record.Bucket != location.Bucket || record.Key != location.Key)
        {
            throw new MultipartException("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");
        }

        return new MultipartUpload(uploadId, record.Bucket, record.Key, record.Initiated, record.Metadata);
    }

    /// <summary>Every upload in progress in <paramref name="bucket"/>, by key then time.</summary>
    public IReadOnlyList<MultipartUpload> List(string bucket)
    {
        var result = new List<MultipartUpload>();
        if (!Directory.Exists(UploadsRoot))
        {
            return result;
        }

        foreach (var dir in Directory.EnumerateDirectories(UploadsRoot))
        {
            try
            {
                var record = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, UploadFile)), StorageJsonContext.Default.MultipartUploadRecord);
                if (record is not null && record.Bucket == bucket)
                {
                    result.Add(new MultipartUpload(Path.GetFileName(dir), record.Bucket, record.Key, record.Initiated, record.Metadata));
                }
            }
            catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
            {
            }
        }

        result.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key) is var c and not 0 ? c : a.Initiated.CompareTo(b.Initiated));
        return result;
    }

    /// <summary>A temporary file in the upload's directory for a part being received.</summary>
    public string NewPartTempPath(MultipartUpload upload) => Path.Combine(DirectoryOf(upload.UploadId), $".part-{Guid.NewGuid():N}");

    /// <summary>Makes the received <paramref name="temp"/> part <paramref name="partNumber"/> of the upload, replacing an earlier one.</summary>
    public UploadedPart CommitPart(MultipartUpload upload, int partNumber, string temp, string md5Hex)
    {
        var dir = DirectoryOf(upload.UploadId);
        if (!Directory.Exists(dir))
        {
            File.Delete(temp);
            throw new MultipartException("NoSuchUpload", "The specified upload does not exist: it was aborted or completed while this part was sent.");
        }

        new ObjectMetadata { ETag = md5Hex }.TryWrite(temp);
        var path = Path.Combine(dir, PartName(partNumber));
        File.Move(temp, path, overwrite: true);
        var info = new FileInfo(path);
        return new UploadedPart(partNumber, info.Length, md5Hex, info.LastWriteTimeUtc);
    }

    private static string PartName(int partNumber) => $"part-{partNumber:D5}";

    /// <summary>The parts uploaded so far, by number.</summary>
    public IReadOnlyList<UploadedPart> Parts(MultipartUpload upload)
    {
        var dir = DirectoryOf(upload.UploadId);
        var parts = new List<UploadedPart>();
        foreach (var file in new DirectoryInfo(dir).EnumerateFiles("part-*"))
        {
            if (int.TryParse(file.Name.AsSpan(5), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            {
                var etag = ObjectMetadata.Read(file.FullName)?.ETag ?? Md5Hex(file.FullName);
                parts.Add(new UploadedPart(n, file.Length, etag, file.LastWriteTimeUtc));
            }
        }

        parts.Sort((a, b) => a.PartNumber.CompareTo(b.PartNumber));
        return parts;
    }

    private static string Md5Hex(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(MD5.HashData(stream));
    }

    /// <summary>Aborts the upload: its parts are deleted.</summary>
    public void Abort(MultipartUpload upload) => Directory.Delete(DirectoryOf(upload.UploadId), recursive: true);

    /// <summary>
    /// Completes the upload from <paramref name="chosen"/> (part numbers and ETags as the client lists them):
    /// ascending, each uploaded with that ETag, each but the last at least 5 MiB. Returns the object's ETag
    /// and size. Nothing is stored when a check fails.
    /// </summary>
    public async Task<(string ETag, long Size)> CompleteAsync(MultipartUpload upload, IReadOnlyList<(int PartNumber, string ETag)> chosen, CancellationToken cancellationToken)
    {
        if (chosen.Count == 0)
        {
            throw new MultipartException("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema: it lists no parts.");
        }

        for (var i = 1; i < chosen.Count; i++)
        {
            if (chosen[i].PartNumber <= chosen[i - 1].PartNumber)
            {
                throw new MultipartException("InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.");
            }
        }

        var uploaded = Parts(upload).ToDictionary(p => p.PartNumber);
        var parts = new List<UploadedPart>(chosen.Count);
        foreach (var (number, etag) in chosen)
        {
            if (!uploaded.TryGetValue(number, out var part) || !string.Equals(part.ETag, etag.Trim('"'), StringComparison.OrdinalIgnoreCase))
            {
                throw new MultipartException("InvalidPart", $"One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (Part {number}.)");
            }

            parts.Add(part);
        }

        for (var i = 0; i < parts.Count - 1; i++)
        {
            if (parts[i].Size < MinimumPartSize)
            {
                throw new MultipartException("EntityTooSmall", $"Your proposed upload is smaller than the minimum allowed object size: part {parts[i].PartNumber} is {parts[i].Size} bytes; every part but the last must be at least 5 MiB.");
            }
        }

        var location = new S3Location(upload.Bucket, upload.Key);
        if (store.ConflictOf(location) is { } conflict)
        {
            throw new ObjectStoreException(conflict);
        }

        var dir = DirectoryOf(upload.UploadId);
        var temp = store.NewTempPath();
        long size = 0;
        try
        {
            using (var output = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write))
            {
                foreach (var part in parts)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var input = File.OpenHandle(Path.Combine(dir, PartName(part.PartNumber)), FileMode.Open, FileAccess.Read);
                    size += await Task.Run(() => Append(input, output, size, part.Size), cancellationToken).ConfigureAwait(false);
                }
            }

            var md5s = new byte[parts.Count * 16];
            for (var i = 0; i < parts.Count; i++)
            {
                Convert.FromHexString(parts[i].ETag).CopyTo(md5s, i * 16);
            }

            var etag = $"{Convert.ToHexStringLower(MD5.HashData(md5s))}-{parts.Count}";
            store.Commit(temp, location, upload.Metadata with { ETag = etag, PartsCount = parts.Count });
            Directory.Delete(dir, recursive: true);
            return (etag, size);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    // The part's bytes appended at `offset` in the kernel; a plain copy where copy_file_range cannot be used.
    private static unsafe long Append(SafeFileHandle input, SafeFileHandle output, long offset, long length)
    {
        long inOffset = 0, outOffset = offset;
        var inFd = (int)input.DangerousGetHandle();
        var outFd = (int)output.DangerousGetHandle();
        while (inOffset < length)
        {
            var n = Libc.CopyFileRange(inFd, &inOffset, outFd, &outOffset, (nuint)Math.Min(length - inOffset, 1L << 30), 0);
            if (n > 0)
            {
                continue;
            }

            if (n == 0)
            {
                throw new ObjectStoreException($"A part of the upload ended after {inOffset} of its {length} bytes.");
            }

            var errno = Libc.LastError;
            if (errno == Libc.EINTR)
            {
                continue;
            }

            if (errno is Libc.EXDEV or Libc.ENOSYS or Libc.EINVAL or Libc.EOPNOTSUPP)
            {
                var buffer = new byte[1 << 20];
                while (inOffset < length)
                {
                    var read = RandomAccess.Read(input, buffer, inOffset);
                    if (read == 0)
                    {
                        throw new ObjectStoreException($"A part of the upload ended after {inOffset} of its {length} bytes.");
                    }

                    RandomAccess.Write(output, buffer.AsSpan(0, read), outOffset);
                    inOffset += read;
                    outOffset += read;
                }

                break;
            }

            throw new IOException($"Cannot assemble the upload: {Libc.Describe(errno)}.", errno);
        }

        return length;
    }
}
