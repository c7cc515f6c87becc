using System.Runtime.CompilerServices;

namespace Trainyard.Storage;

/// <summary>
/// The embedded default store: <c>s3://bucket/key</c> is the file <c>&lt;root&gt;/bucket/key</c>.
/// Uploads are written under <c>&lt;root&gt;/.trainyard-tmp</c> (bucket names cannot start with a dot)
/// and renamed into place, so an object appears whole or not at all. <c>file:///</c> locations read and
/// write the local file system directly.
/// </summary>
public sealed class LocalObjectStore : IObjectStore
{
    private const string TempDirectoryName = ".trainyard-tmp";

    public LocalObjectStore(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Name => "local";

    public string Root { get; }

    /// <summary>The file that holds <paramref name="location"/>, refusing keys that would escape the root.</summary>
    public string PathOf(S3Location location)
    {
        if (location.IsFile)
        {
            return Path.GetFullPath(location.Key);
        }

        if (location.Bucket is "." or ".." || location.Bucket.Contains('/', StringComparison.Ordinal) || location.Bucket.StartsWith('.'))
        {
            throw new ObjectStoreException($"Invalid bucket name in {location}.");
        }

        var bucketRoot = Path.Combine(Root, location.Bucket);
        var full = Path.GetFullPath(Path.Combine(bucketRoot, location.Key));
        if (!full.StartsWith(bucketRoot, StringComparison.Ordinal))
        {
            throw new ObjectStoreException($"The key of {location} leaves its bucket.");
        }

        return full;
    }

    public async IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.CompletedTask.ConfigureAwait(false);
        string baseDir;
        string keyPrefix = prefix.Key;
        if (prefix.IsFile)
        {
            // A file:// prefix names a directory (or a single file).
            var path = Path.GetFullPath(prefix.Key);
            if (File.Exists(path))
            {
                var fi = new FileInfo(path);
                yield return new ObjectInfo(prefix, fi.Length, fi.LastWriteTimeUtc);
                yield break;
            }

            baseDir = path;
            keyPrefix = "";
            if (!Directory.Exists(baseDir))
            {
                yield break;
            }

            foreach (var info in Enumerate(baseDir, baseDir, "", cancellationToken))
            {
                var key = Path.GetRelativePath(baseDir, info.FullName).Replace('\\', '/');
                yield return new ObjectInfo(new S3Location("", Path.Combine(baseDir, key)), info.Length, info.LastWriteTimeUtc);
            }

            yield break;
        }

        // A bucket is a directory that the first upload creates: a missing one simply holds nothing.
        baseDir = Path.Combine(Root, prefix.Bucket);
        if (!Directory.Exists(baseDir))
        {
            yield break;
        }

        // Only descend into the directory that can hold keys with this prefix.
        var slash = keyPrefix.LastIndexOf('/');
        var startDir = slash < 0 ? baseDir : Path.Combine(baseDir, keyPrefix[..slash]);
        if (!Directory.Exists(startDir))
        {
            yield break;
        }

        foreach (var info in Enumerate(baseDir, startDir, keyPrefix, cancellationToken))
        {
            var key = Path.GetRelativePath(baseDir, info.FullName).Replace('\\', '/');
            yield return new ObjectInfo(new S3Location(prefix.Bucket, key), info.Length, info.LastWriteTimeUtc);
        }
    }

    // Walks directories so that keys come out in ordinal (S3) order: "a/b" < "a0" because '/' < '0'.
    private static IEnumerable<FileInfo> Enumerate(string baseDir, string startDir, string keyPrefix, CancellationToken cancellationToken)
    {
        var entries = new List<(string Key, FileSystemInfo Info)>();
        foreach (var entry in new DirectoryInfo(startDir).EnumerateFileSystemInfos())
        {
            var key = Path.GetRelativePath(baseDir, entry.FullName).Replace('\\', '/');
            if (entry is DirectoryInfo)
            {
                key += "/";
            }

            if (key.StartsWith(keyPrefix, StringComparison.Ordinal) || keyPrefix.StartsWith(key, StringComparison.Ordinal))
            {
                entries.Add((key, entry));
            }
        }

        entries.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (_, info) in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (info is DirectoryInfo dir)
            {
                if ((dir.Attributes & FileAttributes.ReparsePoint) != 0)
                {
                    continue;
                }

                foreach (var nested in Enumerate(baseDir, dir.FullName, keyPrefix, cancellationToken))
                {
                    yield return nested;
                }
            }
            else if (info is FileInfo file && !file.Name.StartsWith(".trainyard-", StringComparison.Ordinal))
            {
                yield return file;
            }
        }
    }

    public Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken)
    {
        var path = PathOf(location);
        var fi = new FileInfo(path);
        return Task.FromResult(fi.Exists ? new ObjectInfo(location, fi.Length, fi.LastWriteTimeUtc) : null);
    }

    public Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken)
    {
        var path = PathOf(location);
        try
        {
            var stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0,
                Options = FileOptions.SequentialScan,
            });
            if (offset > 0)
            {
                stream.Seek(offset, SeekOrigin.Begin);
            }

            return Task.FromResult<Stream>(length is { } l ? new BoundedStream(stream, l) : stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectStoreException($"{location} does not exist (NoSuchKey).", e);
        }
        catch (IOException e)
        {
            throw new ObjectStoreException($"Cannot read {location}: {e.Message}", e);
        }
    }

    public async Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var path = PathOf(source.Location);
        try
        {
            // File.Copy uses the kernel's copy offload (reflink / copy_file_range) where it can.
            await Task.Run(() => File.Copy(path, destinationPath, overwrite: true), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectStoreException($"{source.Location} does not exist (NoSuchKey): it was listed but is gone.", e);
        }

        var length = new FileInfo(destinationPath).Length;
        if (length != source.Size)
        {
            throw new ObjectStoreException($"{source.Location} changed while it was copied: expected {source.Size} bytes, got {length}.");
        }

        progress?.Report(length);
    }

    public async Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        var destination = PathOf(location);
        var tempDir = location.IsFile ? Path.GetDirectoryName(destination)! : Path.Combine(Root, TempDirectoryName);
        Directory.CreateDirectory(tempDir);
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        var temp = Path.Combine(tempDir, $".trainyard-{Guid.NewGuid():N}.part");
        try
        {
            long length;
            // 64 KiB stays under the large-object heap's 85,000 bytes: a 1 MiB buffer per upload (two per job)
            // set off a background gen2 collection each, measured during the 200-job Slurm run.
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous))
            {
                await write(stream, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                length = stream.Length;
            }

            File.Move(temp, destination, overwrite: true);
            return length;
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    public Task DeleteAsync(S3Location location, CancellationToken cancellationToken)
    {
        File.Delete(PathOf(location));
        return Task.CompletedTask;
    }
}
