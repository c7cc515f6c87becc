using System.Text.Json;
using Trainyard.Images.Cache;
using Trainyard.Images.Oci;

namespace Trainyard.Images.Sources;

/// <summary>
/// A <c>docker save</c> / <c>podman save</c> archive, extracted into <paramref name="directory"/>:
/// <c>manifest.json</c> lists each image's config and layer tars. The source presents the chosen image
/// as an OCI manifest whose layer digests are the config's diff ids (the tars are stored uncompressed),
/// which the unpacker verifies.
/// </summary>
public sealed class DockerArchiveSource(string directory, string? reference, string display) : IImageSource
{
    private readonly Dictionary<string, string> _files = new(StringComparer.Ordinal);

    public async Task<(byte[] Body, string? MediaType)> GetRootAsync(CancellationToken cancellationToken)
    {
        var manifestPath = Path.Combine(directory, "manifest.json");
        if (!File.Exists(manifestPath))
        {
            throw new ImagePullException($"{display} is not a docker-archive (it has no manifest.json)");
        }

        List<DockerArchiveEntry> entries;
        try
        {
            entries = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(manifestPath, cancellationToken).ConfigureAwait(false), ImagesJsonContext.Default.ListDockerArchiveEntry) ?? [];
        }
        catch (JsonException e)
        {
            throw new ImagePullException($"the manifest.json of {display} is not valid JSON: {e.Message}", e);
        }

        DockerArchiveEntry entry;
        if (reference is not null)
        {
            var wanted = Normalise(reference);
            entry = entries.FirstOrDefault(e => (e.RepoTags ?? []).Any(t => Normalise(t) == wanted))
                ?? throw new ImagePullException($"{display} has no image tagged '{reference}'; it has {string.Join(", ", entries.SelectMany(e => e.RepoTags ?? []))}");
        }
        else if (entries.Count == 1)
        {
            entry = entries[0];
        }
        else
        {
            throw new ImagePullException($"{display} holds {entries.Count} images: name one with docker-archive:FILE:NAME:TAG");
        }

        var configPath = Inside(entry.Config ?? throw new ImagePullException($"{display} names no config for its image"));
        var configBytes = await File.ReadAllBytesAsync(configPath, cancellationToken).ConfigureAwait(false);
        var configDigest = ImageCache.Digest(configBytes);
        _files[configDigest] = configPath;
        var config = JsonSerializer.Deserialize(configBytes, ImagesJsonContext.Default.OciImageConfig);
        var diffIds = config?.RootFs?.DiffIds ?? [];
        var layers = entry.Layers ?? [];
        if (diffIds.Count != layers.Count)
        {
            throw new ImagePullException($"{display} lists {layers.Count} layers but its config {diffIds.Count} diff ids");
        }

        var descriptors = new List<OciDescriptor>();
        for (var i = 0; i < layers.Count; i++)
        {
            var path = Inside(layers[i]);
            _files[diffIds[i]] = path;
            descriptors.Add(new OciDescriptor { MediaType = MediaTypes.OciLayer, Digest = diffIds[i], Size = new FileInfo(path).Length });
        }

        var manifest = new OciManifest
        {
            SchemaVersion = 2,
            MediaType = MediaTypes.OciManifest,
            Config = new OciDescriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest, Size = configBytes.Length },
            Layers = descriptors,
        };
        return (JsonSerializer.SerializeToUtf8Bytes(manifest, ImagesJsonContext.Default.OciManifest), MediaTypes.OciManifest);
    }

    public Task<byte[]> GetManifestAsync(OciDescriptor descriptor, CancellationToken cancellationToken) =>
        throw new ImagePullException($"{display} has no manifest {descriptor.Digest}");

    public Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken) =>
        _files.TryGetValue(descriptor.Digest, out var path)
            ? Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan))
            : throw new ImagePullException($"{display} lacks the blob {descriptor.Digest}");

    private string Inside(string relative)
    {
        var full = Path.GetFullPath(Path.Combine(directory, relative));
        if (!full.StartsWith(directory.TrimEnd('/') + "/", StringComparison.Ordinal) || !File.Exists(full))
        {
            throw new ImagePullException($"{display} names '{relative}', which it does not hold");
        }

        return full;
    }

    private static string Normalise(string name) =>
        ImageReference.TryParse(name, out var r, out _) ? r!.ToString() : name;

    public void Dispose() => ImageCache.DeleteTree(directory);
}
