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

    public string Where => $"the directory {Root}";

    public string Root { get; }

    /// <summary>Where uploads are written before they are renamed into place (on the store's file system, so the rename is atomic).</summary>
    public string TempDirectory => Path.Combine(Root, TempDirectoryName);

    /// <summary>
    /// The file that holds <paramref name="location"/>. Refuses a bucket or key that would name something
    /// other than a file below the bucket's directory (see <see cref="ObjectKeys"/>), and one whose existing
    /// directories lead, through a symlink, out of the bucket.
    /// </summary>
    /// <exception cref="ObjectStoreException">The bucket or key cannot be held here; the message says why.</exception>
    public string PathOf(S3Location location)
    {
        if (location.IsFile)
        {
            return Path.GetFullPath(location.Key);
        }

        if (ObjectKeys.BucketProblem(location.Bucket) is { } bucketProblem)
        {
            throw new ObjectStoreException($"Invalid bucket in {location}: {bucketProblem}.");
        }

        if (ObjectKeys.KeyProblem(location.Key) is { } keyProblem)
        {
            throw new ObjectStoreException($"Invalid key in {location}: {keyProblem}.");
        }

        var bucketRoot = BucketPath(location.Bucket);
        var full = bucketRoot + "/" + location.Key;
        RefuseLinksOutside(location, bucketRoot, full);
        return full;
    }

    /// <summary>The directory of <paramref name="bucket"/> (which must be a valid store bucket name).</summary>
    public string BucketPath(string bucket) => Path.Combine(Root, bucket);

    // The deepest directory of the key's path that exists must resolve (symlinks and all) to the bucket's own
    // directory or below it: a symlinked directory inside a bucket must not lead to another bucket or out of
    // the store. (The bucket directory itself may be a symlink: an administrator's way to put a bucket on
    // another disk.)
    private static void RefuseLinksOutside(S3Location location, string bucketRoot, string full)
    {
        var parent = full[..full.LastIndexOf('/')];
        if (parent.Length <= bucketRoot.Length)
        {
            return;
        }

        var realBucket = Interop.Libc.RealPath(bucketRoot);
        if (realBucket is null)
        {
            return;
        }

        var existing = parent;
        string? real;
        while ((real = Interop.Libc.RealPath(existing)) is null && existing.Length > bucketRoot.Length)
        {
            existing = existing[..existing.LastIndexOf('/')];
        }

        if (real is not null && real != realBucket && !real.StartsWith(realBucket + "/", StringComparison.Ordinal))
        {
            throw new ObjectStoreException($"Invalid key in {location}: its directory leads through a symbolic link out of the bucket.");
        }
    }

    /// <summary>
    /// Why the object at <paramref name="location"/> cannot be written beside the objects already stored: a
    /// directory store cannot hold both <c>x</c> and <c>x/y</c>. Null when it can be written.
    /// </summary>
    public string? ConflictOf(S3Location location) => ConflictOf(location, PathOf(location));

    /// <summary>Throws the conflict <see cref="ConflictOf(S3Location)"/> names, if any.</summary>
    /// <exception cref="ObjectStoreException">With <see cref="ObjectStoreException.IsKeyConflict"/>.</exception>
    public void RefuseConflict(S3Location location) => RefuseConflict(location, PathOf(location));

    private void RefuseConflict(S3Location location, string path)
    {
        if (ConflictOf(location, path) is { } conflict)
        {
            throw new ObjectStoreException(conflict) { IsKeyConflict = true };
        }
    }

    private string? ConflictOf(S3Location location, string path)
    {
        if (location.IsFile)
        {
            return null;
        }

        if (Directory.Exists(path))
        {
            return $"{location} cannot be stored: objects with keys beginning '{location.Key}/' exist, and this store keeps keys as paths, so a key cannot also be a prefix of other keys.";
        }

        var bucketRoot = BucketPath(location.Bucket);
        for (var slash = location.Key.IndexOf('/'); slash > 0; slash = location.Key.IndexOf('/', slash + 1))
        {
            if (File.Exists(bucketRoot + "/" + location.Key[..slash]))
            {
                return $"{location} cannot be stored: the object s3://{location.Bucket}/{location.Key[..slash]} exists, and this store keeps keys as paths, so a key cannot also be a prefix of other keys.";
            }
        }

        return null;
    }

    /// <summary>A new temporary file's path for an upload, on the store's file system.</summary>
    public string NewTempPath()
    {
        Directory.CreateDirectory(TempDirectory);
        return Path.Combine(TempDirectory, $".trainyard-{Guid.NewGuid():N}.part");
    }

    /// <summary>
    /// Renames the finished temporary file <paramref name="temp"/> into place as <paramref name="location"/>,
    /// with <paramref name="metadata"/> (kept on the file first, so both appear at once).
    /// </summary>
    /// <exception cref="ObjectStoreException">The key conflicts with stored objects or cannot be held.</exception>
    public void Commit(string temp, S3Location location, ObjectMetadata? metadata)
    {
        var destination = PathOf(location);
        RefuseConflict(location, destination);
        metadata?.TryWrite(temp);
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        File.Move(temp, destination, overwrite: true);
    }

    /// <summary>The object's size, time and stored metadata, or null when there is none.</summary>
    public (ObjectInfo Info, ObjectMetadata? Metadata)? Stat(S3Location location)
    {
        var path = PathOf(location);
        var fi = new FileInfo(path);
        if (!fi.Exists)
        {
            return null;
        }

        var metadata = ObjectMetadata.Read(path);
        var etag = metadata?.ETag ?? ObjectMetadata.SyntheticETag(fi.Length, fi.LastWriteTimeUtc);
        return (new ObjectInfo(location, fi.Length, fi.LastWriteTimeUtc, etag), metadata);
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
        if (location.IsFile)
        {
            var fi = new FileInfo(PathOf(location));
            return Task.FromResult(fi.Exists ? new ObjectInfo(location, fi.Length, fi.LastWriteTimeUtc) : null);
        }

        return Task.FromResult(Stat(location)?.Info);
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
        RefuseConflict(location, destination);
        var tempDir = location.IsFile ? Path.GetDirectoryName(destination)! : TempDirectory;
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
        var path = PathOf(location);
        File.Delete(path);
        if (!location.IsFile)
        {
            RemoveEmptyParents(path, BucketPath(location.Bucket));
        }

        return Task.CompletedTask;
    }

    // A deleted key's directories go with it when nothing else is in them, as prefixes do in S3: `x/` no
    // longer lists, and `x` can become an object again.
    private static void RemoveEmptyParents(string path, string bucketRoot)
    {
        for (var dir = Path.GetDirectoryName(path); dir is not null && dir.Length > bucketRoot.Length; dir = Path.GetDirectoryName(dir))
        {
            try
            {
                Directory.Delete(dir);
            }
            catch (IOException)
            {
                return;
            }
            catch (UnauthorizedAccessException)
            {
                return;
            }
        }
    }
}
