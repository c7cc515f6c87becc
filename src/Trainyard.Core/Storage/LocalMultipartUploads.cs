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

/// <summary>One uploaded part: its number, size, ETag (the part's MD5 in hex) and time; <c>Placed</c> when its bytes are already where the object will have them.</summary>
public sealed record UploadedPart(int PartNumber, long Size, string ETag, DateTimeOffset LastModified, bool Placed = false);

/// <summary>Where one part's bytes are being written: a region of the upload's assembly file, or a file of its own.</summary>
public sealed class PartTarget : IDisposable
{
    internal PartTarget(SafeFileHandle handle, long offset, string? separatePath)
    {
        Handle = handle;
        Offset = offset;
        SeparatePath = separatePath;
    }

    public SafeFileHandle Handle { get; }

    /// <summary>Where in <see cref="Handle"/> the part's first byte goes.</summary>
    public long Offset { get; }

    internal string? SeparatePath { get; }

    internal bool Committed { get; set; }

    public void Dispose()
    {
        Handle.Dispose();
        if (!Committed && SeparatePath is not null)
        {
            File.Delete(SeparatePath);
        }
    }
}

/// <summary>A multipart upload in progress.</summary>
public sealed record MultipartUpload(string UploadId, string Bucket, string Key, DateTimeOffset Initiated, ObjectMetadata Metadata);

/// <summary>Why a CompleteMultipartUpload cannot be done, in S3's terms.</summary>
public sealed class MultipartException(string code, string message) : Exception(message)
{
    /// <summary>S3's error code: <c>NoSuchUpload</c>, <c>InvalidPart</c>, <c>InvalidPartOrder</c>, <c>EntityTooSmall</c>.</summary>
    public string Code { get; } = code;
}

/// <summary>
/// Multipart uploads of the local store, S3's way, without copying the object a second time. Clients cut
/// a file into parts of one size (the AWS CLI 8 MiB, boto3 8 MiB, the .NET SDK 5–16 MiB) and only the last
/// is shorter, so the first part of at least 5 MiB to arrive sets the upload's part size P, and every part
/// of exactly P bytes is written straight into the upload's assembly file at <c>(n − 1) × P</c>, where the
/// object will have it. Any other part (the short last one, or all of them when sizes vary) is a file of
/// its own. Completing the usual list — parts 1…N, all but the last in place — then costs one copy of the
/// last part and a truncate before the assembly file is renamed into place; any other list is assembled
/// by copying in the kernel (<c>copy_file_range</c>). The object gets the multipart ETag
/// (<c>&lt;md5 of the parts' md5s&gt;-N</c>). A part uploaded again replaces the earlier one; a part whose
/// region is being rewritten is not listed until the new bytes are complete (so a failed retry of a part
/// that had succeeded loses that part, and the client's retry sends it again).
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

    /// <summary>
    /// Where part <paramref name="partNumber"/> of <paramref name="length"/> bytes (as the request announces it)
    /// is to be written. Dispose it when done; <see cref="CommitPart"/> makes it the upload's part.
    /// </summary>
    public PartTarget BeginPart(MultipartUpload upload, int partNumber, long? length)
    {
        var dir = DirectoryOf(upload.UploadId);
        if (!Directory.Exists(dir))
        {
            throw new MultipartException("NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.");
        }

        if (length is { } l && l >= MinimumPartSize && ClaimPartSize(dir, l) == l)
        {
            // The region is about to be rewritten: the part is not listed again until its new bytes are complete.
            File.Delete(Path.Combine(dir, PartName(partNumber) + PlacedSuffix));
            var handle = File.OpenHandle(Path.Combine(dir, AssemblyFile), FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
            return new PartTarget(handle, (partNumber - 1) * l, separatePath: null);
        }

        var temp = Path.Combine(dir, $".part-{Guid.NewGuid():N}");
        return new PartTarget(File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write), 0, temp);
    }

    /// <summary>Makes what <paramref name="target"/> received part <paramref name="partNumber"/>, replacing an earlier one.</summary>
    public UploadedPart CommitPart(MultipartUpload upload, int partNumber, PartTarget target, string md5Hex, long size)
    {
        var dir = DirectoryOf(upload.UploadId);
        if (!Directory.Exists(dir))
        {
            throw new MultipartException("NoSuchUpload", "The specified upload does not exist: it was aborted or completed while this part was sent.");
        }

        var separate = Path.Combine(dir, PartName(partNumber));
        var placed = separate + PlacedSuffix;
        target.Handle.Dispose();
        if (target.SeparatePath is null)
        {
            File.WriteAllBytes(placed, []);
            new ObjectMetadata { ETag = md5Hex }.TryWrite(placed);
            File.Delete(separate);
        }
        else
        {
            new ObjectMetadata { ETag = md5Hex }.TryWrite(target.SeparatePath);
            File.Move(target.SeparatePath, separate, overwrite: true);
            File.Delete(placed);
        }

        target.Committed = true;
        return new UploadedPart(partNumber, size, md5Hex, DateTimeOffset.UtcNow, target.SeparatePath is null);
    }

    private const string AssemblyFile = "assembly";
    private const string PartSizeFile = "part-size";
    private const string PlacedSuffix = ".placed";

    // The upload's part size: the first claim wins (a file created exclusively), later claims read it.
    private static long ClaimPartSize(string dir, long length)
    {
        var path = Path.Combine(dir, PartSizeFile);
        try
        {
            using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            return length;
        }
        catch (IOException) when (File.Exists(path))
        {
            return PartSize(dir) ?? -1;
        }
    }

    private static long? PartSize(string dir)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(dir, PartSizeFile));
                if (long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var size))
                {
                    return size;
                }
            }
            catch (FileNotFoundException)
            {
                return null;
            }

            // Another part's claim is being written this instant.
            Thread.Sleep(1);
        }

        return null;
    }

    private static string PartName(int partNumber) => $"part-{partNumber:D5}";

    /// <summary>The parts uploaded so far, by number.</summary>
    public IReadOnlyList<UploadedPart> Parts(MultipartUpload upload)
    {
        var dir = DirectoryOf(upload.UploadId);
        var partSize = PartSize(dir);
        var parts = new Dictionary<int, UploadedPart>();
        foreach (var file in new DirectoryInfo(dir).EnumerateFiles("part-*"))
        {
            var placed = file.Name.EndsWith(PlacedSuffix, StringComparison.Ordinal);
            var digits = placed ? file.Name[5..^PlacedSuffix.Length] : file.Name[5..];
            if (digits.Length != 5 || !int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || (placed && partSize is null))
            {
                continue;
            }

            var etag = ObjectMetadata.Read(file.FullName)?.ETag ?? (placed ? null : Md5Hex(file.FullName));
            if (etag is null)
            {
                continue;
            }

            var part = new UploadedPart(n, placed ? partSize!.Value : file.Length, etag, file.LastWriteTimeUtc, placed);
            if (!parts.TryGetValue(n, out var other) || other.LastModified < part.LastModified)
            {
                parts[n] = part;
            }
        }

        return [.. parts.Values.OrderBy(p => p.PartNumber)];
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
        foreach (var (number, claimed) in chosen)
        {
            if (!uploaded.TryGetValue(number, out var part) || !string.Equals(part.ETag, claimed.Trim('"'), StringComparison.OrdinalIgnoreCase))
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
        store.RefuseConflict(location);

        var dir = DirectoryOf(upload.UploadId);
        var md5s = new byte[parts.Count * 16];
        for (var i = 0; i < parts.Count; i++)
        {
            Convert.FromHexString(parts[i].ETag).CopyTo(md5s, i * 16);
        }

        var etag = $"{Convert.ToHexStringLower(MD5.HashData(md5s))}-{parts.Count}";
        var size = parts.Sum(p => p.Size);
        var last = parts[^1];
        var assemblyPartSize = PartSize(dir);
        var inPlace = assemblyPartSize is not null
            && parts.Take(parts.Count - 1).Select((p, i) => p.Placed && p.PartNumber == i + 1).All(ok => ok)
            && (!last.Placed || last.PartNumber == parts.Count);
        string temp;
        if (inPlace)
        {
            // Parts 1…N−1 are where the object has them: bring the last one in (unless it is too) and cut the rest off.
            temp = Path.Combine(dir, AssemblyFile);
            using var output = File.OpenHandle(temp, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
            var lastOffset = size - last.Size;
            if (!last.Placed)
            {
                using var input = File.OpenHandle(Path.Combine(dir, PartName(last.PartNumber)), FileMode.Open, FileAccess.Read);
                await Task.Run(() => Copy(input, 0, output, lastOffset, last.Size), cancellationToken).ConfigureAwait(false);
            }

            RandomAccess.SetLength(output, size);
        }
        else
        {
            temp = store.NewTempPath();
            try
            {
                using var output = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write);
                long offset = 0;
                foreach (var part in parts)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var input = File.OpenHandle(Path.Combine(dir, part.Placed ? AssemblyFile : PartName(part.PartNumber)), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                    var from = part.Placed ? (part.PartNumber - 1) * assemblyPartSize!.Value : 0;
                    var at = offset;
                    await Task.Run(() => Copy(input, from, output, at, part.Size), cancellationToken).ConfigureAwait(false);
                    offset += part.Size;
                }
            }
            catch
            {
                File.Delete(temp);
                throw;
            }
        }

        store.Commit(temp, location, upload.Metadata with { ETag = etag, PartsCount = parts.Count });
        Directory.Delete(dir, recursive: true);
        return (etag, size);
    }

    // `length` bytes from `from` in `input` to `offset` in `output`, in the kernel; a plain copy where copy_file_range cannot be used.
    private static unsafe long Copy(SafeFileHandle input, long from, SafeFileHandle output, long offset, long length)
    {
        long inOffset = from, outOffset = offset, end = from + length;
        var inFd = (int)input.DangerousGetHandle();
        var outFd = (int)output.DangerousGetHandle();
        while (inOffset < end)
        {
            var n = Libc.CopyFileRange(inFd, &inOffset, outFd, &outOffset, (nuint)Math.Min(end - inOffset, 1L << 30), 0);
            if (n > 0)
            {
                continue;
            }

            if (n == 0)
            {
                throw new ObjectStoreException($"A part of the upload ended after {inOffset - from} of its {length} bytes.");
            }

            var errno = Libc.LastError;
            if (errno == Libc.EINTR)
            {
                continue;
            }

            if (errno is Libc.EXDEV or Libc.ENOSYS or Libc.EINVAL or Libc.EOPNOTSUPP)
            {
                var buffer = new byte[1 << 20];
                while (inOffset < end)
                {
                    var read = RandomAccess.Read(input, buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - inOffset)), inOffset);
                    if (read == 0)
                    {
                        throw new ObjectStoreException($"A part of the upload ended after {inOffset - from} of its {length} bytes.");
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
