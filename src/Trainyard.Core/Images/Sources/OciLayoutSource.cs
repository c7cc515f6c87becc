using System.Text.Json;
using Trainyard.Images.Cache;
using Trainyard.Images.Oci;

namespace Trainyard.Images.Sources;

/// <summary>
/// An OCI image layout (<c>oci-layout</c>, <c>index.json</c>, <c>blobs/</c>): the manifest whose
/// <c>org.opencontainers.image.ref.name</c> is the tag, or the only one when no tag is given.
/// <paramref name="cleanup"/> is a directory deleted with the source (an extracted archive).
/// </summary>
public sealed class OciLayoutSource(string directory, string? tag, string display, string? cleanup = null) : IImageSource
{
    private const string RefName = "org.opencontainers.image.ref.name";

    public async Task<(byte[] Body, string? MediaType)> GetRootAsync(CancellationToken cancellationToken)
    {
        var indexPath = Path.Combine(directory, "index.json");
        if (!File.Exists(indexPath))
        {
            throw new ImagePullException(Directory.Exists(directory)
                ? $"{directory} is not an OCI image layout (it has no index.json)"
                : $"{directory} does not exist");
        }

        OciManifest index;
        try
        {
            index = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(indexPath, cancellationToken).ConfigureAwait(false), ImagesJsonContext.Default.OciManifest)
                ?? throw new ImagePullException($"{indexPath} is empty");
        }
        catch (JsonException e)
        {
            throw new ImagePullException($"{indexPath} is not valid JSON: {e.Message}", e);
        }

        var entries = index.Manifests ?? [];
        OciDescriptor? chosen;
        if (tag is not null)
        {
            chosen = entries.FirstOrDefault(m => m.Annotations?.GetValueOrDefault(RefName) == tag)
                ?? entries.FirstOrDefault(m => m.Annotations?.GetValueOrDefault("io.containerd.image.name") is { } n && n.EndsWith(":" + tag, StringComparison.Ordinal));
            if (chosen is null)
            {
                var tags = entries.Select(m => m.Annotations?.GetValueOrDefault(RefName)).OfType<string>().ToList();
                throw new ImagePullException($"the OCI layout {directory} has no image tagged '{tag}'" + (tags.Count > 0 ? $"; it has {string.Join(", ", tags)}" : ""));
            }
        }
        else if (entries.Count == 1)
        {
            chosen = entries[0];
        }
        else
        {
            throw new ImagePullException(entries.Count == 0
                ? $"the OCI layout {directory} holds no image"
                : $"the OCI layout {directory} holds {entries.Count} images: name one with {display}:TAG");
        }

        var body = await ReadAsync(chosen, cancellationToken).ConfigureAwait(false);
        return (body, chosen.MediaType);
    }

    public Task<byte[]> GetManifestAsync(OciDescriptor descriptor, CancellationToken cancellationToken) => ReadAsync(descriptor, cancellationToken);

    public Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken)
    {
        var path = BlobPath(descriptor.Digest);
        return Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan));
    }

    private async Task<byte[]> ReadAsync(OciDescriptor descriptor, CancellationToken cancellationToken) =>
        await File.ReadAllBytesAsync(BlobPath(descriptor.Digest), cancellationToken).ConfigureAwait(false);

    private string BlobPath(string digest)
    {
        var colon = digest.IndexOf(':', StringComparison.Ordinal);
        _ = ImageCache.Hex(digest); // refuses a digest that is not one (no '..' in a path)
        var path = Path.Combine(directory, "blobs", digest[..colon], digest[(colon + 1)..]);
        if (!File.Exists(path))
        {
            throw new ImagePullException($"the OCI layout {directory} lacks the blob {digest}");
        }

        return path;
    }

    public void Dispose()
    {
        if (cleanup is not null)
        {
            ImageCache.DeleteTree(cleanup);
        }
    }
}
