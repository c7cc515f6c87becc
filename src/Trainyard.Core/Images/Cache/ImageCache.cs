using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Trainyard.Images.Oci;

namespace Trainyard.Images.Cache;

/// <summary>
/// The content-addressed image cache (<c>&lt;home&gt;/images/</c>, shared by every job and, on a shared
/// file system, every Slurm node):
/// <code>
/// blobs/sha256/HEX       manifests, indexes and configs, verified before they appear
/// layers/HEX/root/       each layer unpacked once, in overlay format (HEX: its uncompressed digest)
/// refs/HASH.json         a pulled name → its manifest, config and layers
/// tmp/                   work in progress; made visible by rename(2), so nothing half-written is ever seen
/// locks/                 flock files: one pull per image and per layer at a time, prune against pulls and running jobs
/// </code>
/// </summary>
public sealed partial class ImageCache(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string BlobsDirectory => Path.Combine(Root, "blobs", "sha256");

    public string LayersDirectory => Path.Combine(Root, "layers");

    public string RefsDirectory => Path.Combine(Root, "refs");

    public string TempDirectory => Path.Combine(Root, "tmp");

    public string LocksDirectory => Path.Combine(Root, "locks");

    public string BlobPath(string digest) => Path.Combine(BlobsDirectory, Hex(digest));

    /// <summary>The directory a layer is unpacked in (the overlay lower directory).</summary>
    public string LayerRoot(string diffId) => Path.Combine(LayersDirectory, Hex(diffId), "root");

    public bool HasLayer(string diffId) => Directory.Exists(LayerRoot(diffId));

    /// <summary>A fresh directory under tmp/ for work that a rename will publish.</summary>
    public string NewTemp(string what)
    {
        Directory.CreateDirectory(TempDirectory);
        var path = Path.Combine(TempDirectory, $"{what}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Reads a blob that is in the cache, or null.</summary>
    public byte[]? ReadBlob(string digest)
    {
        var path = BlobPath(digest);
        return File.Exists(path) ? File.ReadAllBytes(path) : null;
    }

    /// <summary>Stores a small blob (a manifest or config) after checking its digest.</summary>
    public void WriteBlob(string digest, byte[] content)
    {
        var actual = Digest(content);
        if (actual != digest)
        {
            throw new ImagePullException($"digest mismatch: {digest} was expected, the content is {actual}");
        }

        var path = BlobPath(digest);
        if (File.Exists(path))
        {
            return;
        }

        Directory.CreateDirectory(BlobsDirectory);
        var temp = Path.Combine(TempDirectory, $"blob-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(TempDirectory);
        File.WriteAllBytes(temp, content);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Publishes an unpacked layer: <paramref name="tempLayer"/> (holding <c>root/</c>) becomes layers/HEX.</summary>
    public void PublishLayer(string diffId, string tempLayer)
    {
        Directory.CreateDirectory(LayersDirectory);
        var target = Path.Combine(LayersDirectory, Hex(diffId));
        try
        {
            Directory.Move(tempLayer, target);
        }
        catch (IOException) when (Directory.Exists(target))
        {
            // Another node published the same layer first (no lock spans nodes): keep theirs.
            DeleteTree(tempLayer);
        }
    }

    public CachedImage? GetRef(string name)
    {
        var path = RefPath(name);
        if (!File.Exists(path))
        {
            return null;
        }

        var image = JsonSerializer.Deserialize(File.ReadAllBytes(path), ImagesJsonContext.Default.CachedImage);
        return image is not null && image.Layers.All(HasLayer) && File.Exists(BlobPath(image.ConfigDigest)) ? image : null;
    }

    public void PutRef(CachedImage image)
    {
        Directory.CreateDirectory(RefsDirectory);
        Directory.CreateDirectory(TempDirectory);
        var temp = Path.Combine(TempDirectory, $"ref-{Environment.ProcessId}-{Guid.NewGuid():N}");
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(image, ImagesJsonContext.Default.CachedImage));
        File.Move(temp, RefPath(image.Name), overwrite: true);
    }

    public bool RemoveRef(string name)
    {
        var path = RefPath(name);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    public IReadOnlyList<CachedImage> ListRefs()
    {
        if (!Directory.Exists(RefsDirectory))
        {
            return [];
        }

        var images = new List<CachedImage>();
        foreach (var file in Directory.EnumerateFiles(RefsDirectory, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize(File.ReadAllBytes(file), ImagesJsonContext.Default.CachedImage) is { } image)
                {
                    images.Add(image);
                }
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                // a ref being replaced or damaged: skip it
            }
        }

        return images;
    }

    /// <summary>The image configuration of a cached image.</summary>
    public OciImageConfig Config(CachedImage image) =>
        JsonSerializer.Deserialize(ReadBlob(image.ConfigDigest) ?? throw new ImagePullException($"the config {image.ConfigDigest} of {image.Name} is missing from the cache"),
            ImagesJsonContext.Default.OciImageConfig) ?? throw new ImagePullException($"the config of {image.Name} is empty");

    /// <summary>The layer directories of a cached image, bottom first.</summary>
    public IReadOnlyList<string> LayerRoots(CachedImage image) => image.Layers.Select(LayerRoot).ToList();

    /// <summary>Held (shared) by pulls, taken (exclusive) by prune.</summary>
    public string GcLockPath => Path.Combine(LocksDirectory, "gc.lock");

    /// <summary>One pull of a name at a time.</summary>
    public string PullLockPath(string name) => Path.Combine(LocksDirectory, "pull-" + Hash(name)[..32] + ".lock");

    /// <summary>One unpack of a layer at a time.</summary>
    public string LayerLockPath(string diffId) => Path.Combine(LocksDirectory, "layer-" + Hex(diffId) + ".lock");

    /// <summary>Held (shared) by every host that runs an image, so prune keeps it.</summary>
    public string InUseLockPath(string manifestDigest) => Path.Combine(LocksDirectory, "use-" + Hex(manifestDigest) + ".lock");

    public static string Digest(ReadOnlySpan<byte> content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    public static string Hex(string digest)
    {
        var colon = digest.IndexOf(':', StringComparison.Ordinal);
        var hex = colon < 0 ? digest : digest[(colon + 1)..];
        if (hex.Length is not (64 or 128) || !hex.All(char.IsAsciiHexDigitLower) || (colon >= 0 && digest[..colon] is not ("sha256" or "sha512")))
        {
            throw new ImagePullException($"'{digest}' is not a sha256 digest");
        }

        return digest.StartsWith("sha512:", StringComparison.Ordinal) ? "512-" + hex : hex;
    }

    private string RefPath(string name) => Path.Combine(RefsDirectory, Hash(name) + ".json");

    private static string Hash(string name) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)));

    /// <summary>Deletes a directory tree, layers included (their files are read-only and root-owned: that is fine as root).</summary>
    public static void DeleteTree(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (UnauthorizedAccessException)
        {
            // Directories without write permission: open them up, then delete.
            foreach (var dir in Directory.EnumerateDirectories(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                try
                {
                    File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
                catch (IOException)
                {
                    // a symlink or gone
                }
            }

            Directory.Delete(path, recursive: true);
        }
    }
}
