using System.Formats.Tar;
using System.IO.Compression;
using Trainyard.Storage;

namespace Trainyard.Artifacts;

/// <summary>
/// Packs what the hosts of a job left in one directory each (<c>/opt/ml/model</c>, <c>/opt/ml/output/data</c>)
/// into one archive, the way SageMaker aggregates them: the union of all hosts' files (hosts must not
/// clash on names; on a clash the lowest-numbered host's file is kept and the clash is reported).
/// </summary>
public static class ArtifactPacker
{
    /// <summary>The files to pack: relative path → absolute path, in a stable order.</summary>
    public static SortedDictionary<string, string> Collect(IEnumerable<string> hostDirectories, Action<string>? warn = null)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dir in hostDirectories)
        {
            if (!Directory.Exists(dir))
            {
                continue;
            }

            foreach (var path in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                var info = new FileInfo(path);
                if (Directory.Exists(path) && info.LinkTarget is null)
                {
                    continue; // directories come with their files
                }

                var relative = Path.GetRelativePath(dir, path).Replace('\\', '/');
                if (!files.TryAdd(relative, path))
                {
                    warn?.Invoke($"Two hosts wrote '{relative}'; the archive keeps the one from {files[relative]}.");
                }
            }
        }

        return files;
    }

    /// <summary>Writes a gzip-compressed tar of <paramref name="files"/> to <paramref name="destination"/>.</summary>
    public static async Task WriteTarGzAsync(SortedDictionary<string, string> files, Stream destination, CancellationToken cancellationToken)
    {
        // Independent gzip members compressed on every core: still one valid .tar.gz.
        await using var gzip = new ParallelGzipStream(destination, CompressionLevel.Fastest, leaveOpen: true);
        await WriteTarAsync(files, gzip, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a plain tar of <paramref name="files"/>.</summary>
    public static async Task WriteTarAsync(SortedDictionary<string, string> files, Stream destination, CancellationToken cancellationToken)
    {
        await using var tar = new TarWriter(destination, TarEntryFormat.Pax, leaveOpen: true);
        foreach (var (relative, path) in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await tar.WriteEntryAsync(path, relative, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Uploads each file on its own below <paramref name="prefix"/> (OutputDataConfig.CompressionType NONE).</summary>
    public static async Task UploadUncompressedAsync(IObjectStore store, SortedDictionary<string, string> files, S3Location prefix, CancellationToken cancellationToken)
    {
        foreach (var (relative, path) in files)
        {
            if (new FileInfo(path).LinkTarget is not null)
            {
                continue;
            }

            await store.UploadAsync(prefix.Append(relative), async (stream, ct) =>
            {
                await using var source = File.OpenRead(path);
                await source.CopyToAsync(stream, 1 << 20, ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
    }
}
