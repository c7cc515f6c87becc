using System.Text.Json;

namespace Trainyard.Images.Cache;

public sealed partial class ImageCache
{
    /// <summary>
    /// Removes what no tag (ref) and no running job references: layers, manifests and configs, and
    /// leftovers of interrupted pulls. Runs while no pull is under way (it takes the cache's lock).
    /// </summary>
    public async Task<PruneResult> PruneAsync(CancellationToken cancellationToken)
    {
        using var gc = await FileLock.AcquireAsync(GcLockPath, exclusive: true, cancellationToken).ConfigureAwait(false);
        var keepLayers = new HashSet<string>(StringComparer.Ordinal);
        var keepBlobs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var image in ListRefs())
        {
            Keep(image.ManifestDigest, image.ConfigDigest, image.Layers, keepLayers, keepBlobs);
        }

        foreach (var manifest in InUse())
        {
            KeepManifest(manifest, keepLayers, keepBlobs);
        }

        var removed = 0;
        long freed = 0;
        if (Directory.Exists(LayersDirectory))
        {
            foreach (var dir in Directory.EnumerateDirectories(LayersDirectory))
            {
                if (!keepLayers.Contains(Path.GetFileName(dir)))
                {
                    freed += Size(dir);
                    DeleteTree(dir);
                    removed++;
                }
            }
        }

        if (Directory.Exists(BlobsDirectory))
        {
            foreach (var file in Directory.EnumerateFiles(BlobsDirectory))
            {
                if (!keepBlobs.Contains(Path.GetFileName(file)))
                {
                    freed += new FileInfo(file).Length;
                    File.Delete(file);
                }
            }
        }

        if (Directory.Exists(TempDirectory))
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(TempDirectory))
            {
                freed += Directory.Exists(entry) ? Size(entry) : new FileInfo(entry).Length;
                if (Directory.Exists(entry))
                {
                    DeleteTree(entry);
                }
                else
                {
                    File.Delete(entry);
                }
            }
        }

        return new PruneResult(removed, freed);
    }

    /// <summary>The manifest digests that running hosts hold (their in-use lock is taken).</summary>
    public IReadOnlyList<string> InUse()
    {
        var inUse = new List<string>();
        if (!Directory.Exists(LocksDirectory))
        {
            return inUse;
        }

        foreach (var file in Directory.EnumerateFiles(LocksDirectory, "use-*.lock"))
        {
            using var probe = FileLock.TryAcquire(file, exclusive: true);
            if (probe is null)
            {
                inUse.Add("sha256:" + Path.GetFileNameWithoutExtension(file)["use-".Length..]);
            }
        }

        return inUse;
    }

    private void KeepManifest(string manifestDigest, HashSet<string> keepLayers, HashSet<string> keepBlobs)
    {
        try
        {
            var manifest = ReadBlob(manifestDigest) is { } body ? JsonSerializer.Deserialize(body, ImagesJsonContext.Default.OciManifest) : null;
            if (manifest?.Config is { } config && ReadBlob(config.Digest) is { } configBody
                && JsonSerializer.Deserialize(configBody, ImagesJsonContext.Default.OciImageConfig) is { } parsed)
            {
                Keep(manifestDigest, config.Digest, parsed.RootFs?.DiffIds ?? [], keepLayers, keepBlobs);
            }
        }
        catch (JsonException)
        {
            // an unreadable manifest keeps nothing
        }
    }

    private static void Keep(string manifest, string config, IEnumerable<string> layers, HashSet<string> keepLayers, HashSet<string> keepBlobs)
    {
        keepBlobs.Add(Hex(manifest));
        keepBlobs.Add(Hex(config));
        foreach (var layer in layers)
        {
            keepLayers.Add(Hex(layer));
        }
    }

    private static long Size(string directory)
    {
        long total = 0;
        try
        {
            foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true }))
            {
                if (file.LinkTarget is null)
                {
                    total += file.Length;
                }
            }
        }
        catch (IOException)
        {
            // counted what could be counted
        }

        return total;
    }
}
