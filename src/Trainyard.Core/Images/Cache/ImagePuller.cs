using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.Json;
using Trainyard.DataPlane;
using Trainyard.Images.Oci;
using Trainyard.Images.Registry;
using Trainyard.Images.Sources;

using Trainyard.Interop;

namespace Trainyard.Images.Cache;

/// <summary>
/// Brings an image into the cache: resolves its manifest (picking this machine's platform from an
/// index), fetches its config, then downloads, verifies and unpacks the missing layers in one pass
/// each (network → SHA-256 → gunzip → SHA-256 → tar → layer directory), several at once. Each image
/// and each layer is pulled by one puller at a time (flock), so concurrent jobs wait for the first
/// pull instead of repeating it. A cached name is used without asking the registry again
/// (<paramref name="refresh"/> asks).
/// </summary>
public sealed class ImagePuller(ImageCache cache, RegistryOptions registryOptions)
{
    /// <summary>Layers downloaded and unpacked at once (Docker's default is 3).</summary>
    public int Parallelism { get; init; } = 3;

    public ImageCache Cache => cache;

    /// <summary>Returns the cached image, pulling it first when it is not in the cache (or when <paramref name="refresh"/>).</summary>
    public async Task<CachedImage> PullAsync(ImageLocation location, bool refresh, Action<string>? log, Action<PullProgress>? progress, CancellationToken cancellationToken)
    {
        var name = location.ToString();
        if (!refresh && cache.GetRef(name) is { } cached)
        {
            return cached;
        }

        using var gc = await FileLock.AcquireAsync(cache.GcLockPath, exclusive: false, cancellationToken).ConfigureAwait(false);
        using var pulling = await FileLock.AcquireAsync(cache.PullLockPath(name), exclusive: true, cancellationToken).ConfigureAwait(false);
        if (!refresh && cache.GetRef(name) is { } pulledMeanwhile)
        {
            log?.Invoke($"{location.Display} was pulled by another job meanwhile.");
            return pulledMeanwhile;
        }

        var clock = Stopwatch.StartNew();
        using var registry = new RegistryClient(registryOptions);
        using var source = await OpenAsync(location, registry, cancellationToken).ConfigureAwait(false);
        var (manifestDigest, manifestBody, manifest) = await ResolveManifestAsync(location, source, cancellationToken).ConfigureAwait(false);
        var (configDigest, config) = await ConfigAsync(source, manifest, cancellationToken).ConfigureAwait(false);
        var diffIds = config.RootFs?.DiffIds ?? [];
        var layers = manifest.Layers!;
        if (diffIds.Count != layers.Count)
        {
            throw new ImagePullException($"its manifest lists {layers.Count} layers but its config {diffIds.Count}");
        }

        cache.WriteBlob(manifestDigest, manifestBody);
        var missing = Enumerable.Range(0, layers.Count).Where(i => !cache.HasLayer(diffIds[i])).DistinctBy(i => diffIds[i]).ToList();
        var total = missing.Sum(i => layers[i].Size);
        log?.Invoke(missing.Count == 0
            ? $"Pulling {location.Display} ({manifestDigest}): every layer is cached."
            : $"Pulling {location.Display} ({manifestDigest}): {missing.Count} of {layers.Count} layers, {FileChannelLoader.Format(total)} to download.");
        long done = 0;
        var layersDone = 0;
        long unpacked = 0;
        progress?.Invoke(new PullProgress(0, total, 0, missing.Count));
        await Parallel.ForEachAsync(missing, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            var written = await LayerAsync(source, layers[i], diffIds[i], n =>
            {
                var now = Interlocked.Add(ref done, n);
                progress?.Invoke(new PullProgress(now, total, Volatile.Read(ref layersDone), missing.Count));
            }, ct).ConfigureAwait(false);
            Interlocked.Add(ref unpacked, written);
            progress?.Invoke(new PullProgress(Interlocked.Read(ref done), total, Interlocked.Increment(ref layersDone), missing.Count));
        }).ConfigureAwait(false);

        var image = new CachedImage
        {
            Name = name,
            ManifestDigest = manifestDigest,
            ConfigDigest = configDigest,
            Layers = [.. diffIds],
            Size = layers.Sum(l => l.Size),
            Pulled = DateTimeOffset.UtcNow,
        };
        cache.PutRef(image);
        var seconds = clock.Elapsed.TotalSeconds;
        if (missing.Count > 0)
        {
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"Pulled {location.Display}: {FileChannelLoader.Format(total)} in {seconds:F2} s ({FileChannelLoader.Format((long)(total / Math.Max(seconds, 0.001)))}/s), {FileChannelLoader.Format(unpacked)} unpacked."));
        }

        return image;
    }

    private async Task<IImageSource> OpenAsync(ImageLocation location, RegistryClient registry, CancellationToken cancellationToken)
    {
        switch (location)
        {
            case ImageLocation.Registry r:
                return new RegistrySource(registry, r.Reference);
            case ImageLocation.OciLayout l:
                return new OciLayoutSource(l.Path, l.Tag, location.Display);
            case ImageLocation.OciArchive a:
                {
                    var dir = await ExtractAsync(a.Path, location, cancellationToken).ConfigureAwait(false);
                    return new OciLayoutSource(dir, a.Tag, location.Display, cleanup: dir);
                }

            case ImageLocation.DockerArchive d:
                {
                    var dir = await ExtractAsync(d.Path, location, cancellationToken).ConfigureAwait(false);
                    return new DockerArchiveSource(dir, d.Reference, location.Display);
                }

            default:
                throw new ImagePullException($"the transport of {location} is not supported");
        }
    }

    private async Task<string> ExtractAsync(string archive, ImageLocation location, CancellationToken cancellationToken)
    {
        if (!File.Exists(archive))
        {
            throw new ImagePullException($"{archive} does not exist");
        }

        var dir = cache.NewTemp("archive");
        try
        {
            await TarFile.ExtractToDirectoryAsync(archive, dir, overwriteFiles: false, cancellationToken).ConfigureAwait(false);
            return dir;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            ImageCache.DeleteTree(dir);
            throw new ImagePullException($"{location.Display} is not a readable tar archive: {e.Message}", e);
        }
    }

    private static async Task<(string Digest, byte[] Body, OciManifest Manifest)> ResolveManifestAsync(ImageLocation location, IImageSource source, CancellationToken cancellationToken)
    {
        var (body, mediaType) = await source.GetRootAsync(cancellationToken).ConfigureAwait(false);
        var digest = ImageCache.Digest(body);
        if (location is ImageLocation.Registry { Reference.Digest: { } wanted } && wanted != digest)
        {
            throw new ImagePullException($"digest mismatch: the registry served a manifest whose digest is {digest}, not {wanted}");
        }

        var manifest = Parse(body);
        mediaType = manifest.MediaType ?? mediaType;
        if (MediaTypes.IsIndex(mediaType) || (mediaType is null && manifest.Manifests is not null))
        {
            var chosen = Platforms.Select(manifest.Manifests ?? []);
            body = await source.GetManifestAsync(chosen, cancellationToken).ConfigureAwait(false);
            digest = ImageCache.Digest(body);
            if (digest != chosen.Digest)
            {
                throw new ImagePullException($"digest mismatch: the manifest for {chosen.Platform} should be {chosen.Digest} but is {digest}");
            }

            manifest = Parse(body);
            mediaType = manifest.MediaType ?? chosen.MediaType;
        }

        if (mediaType is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed || manifest.SchemaVersion == 1)
        {
            throw new ImagePullException("its manifest is Docker's schema 1, which registries have not served since 2019; push it again with a current client");
        }

        if (!MediaTypes.IsManifest(mediaType) && mediaType is not null)
        {
            throw new ImagePullException($"its manifest has the media type {mediaType}, which is not an image manifest");
        }

        if (manifest.Config is null || manifest.Layers is null)
        {
            throw new ImagePullException("its manifest names no config or no layers");
        }

        foreach (var layer in manifest.Layers)
        {
            if (MediaTypes.LayerProblem(layer.MediaType) is { } problem)
            {
                throw new ImagePullException(problem);
            }
        }

        return (digest, body, manifest);
    }

    private async Task<(string Digest, OciImageConfig Config)> ConfigAsync(IImageSource source, OciManifest manifest, CancellationToken cancellationToken)
    {
        var descriptor = manifest.Config!;
        var bytes = cache.ReadBlob(descriptor.Digest);
        if (bytes is null)
        {
            await using var stream = await source.OpenBlobAsync(descriptor, cancellationToken).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            bytes = buffer.ToArray();
            cache.WriteBlob(descriptor.Digest, bytes);
        }

        OciImageConfig config;
        try
        {
            config = JsonSerializer.Deserialize(bytes, ImagesJsonContext.Default.OciImageConfig) ?? throw new ImagePullException("its config is empty");
        }
        catch (JsonException e)
        {
            throw new ImagePullException($"its config {descriptor.Digest} is not valid JSON: {e.Message}", e);
        }

        if (config.Os is { } os && os != "linux")
        {
            throw new ImagePullException($"it is an image for {os}, not linux");
        }

        if (config.Architecture is { } arch && arch != Platforms.Architecture)
        {
            throw new ImagePullException($"it is an image for linux/{arch}; this machine is linux/{Platforms.Architecture}");
        }

        return (descriptor.Digest, config);
    }

    /// <summary>Downloads, verifies and unpacks one layer unless another puller did; returns the bytes unpacked.</summary>
    private async Task<long> LayerAsync(IImageSource source, OciDescriptor layer, string diffId, Action<int> onBytes, CancellationToken cancellationToken)
    {
        using var layerLock = await FileLock.AcquireAsync(cache.LayerLockPath(diffId), exclusive: true, cancellationToken).ConfigureAwait(false);
        if (cache.HasLayer(diffId))
        {
            onBytes((int)Math.Min(layer.Size, int.MaxValue));
            return 0;
        }

        var temp = cache.NewTemp("layer");
        try
        {
            var root = Path.Combine(temp, "root");
            Directory.CreateDirectory(root);
            await using var blob = await source.OpenBlobAsync(layer, cancellationToken).ConfigureAwait(false);
            using var registration = cancellationToken.Register(() => blob.Dispose());
            var written = await Task.Factory.StartNew(() => Unpack(blob, layer, diffId, root, onBytes), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            cache.PublishLayer(diffId, temp);
            return written;
        }
        catch (Exception e) when (e is not OperationCanceledException || cancellationToken.IsCancellationRequested)
        {
            ImageCache.DeleteTree(temp);
            cancellationToken.ThrowIfCancellationRequested();
            throw e switch
            {
                ImagePullException => e,
                IOException io when io.Message.Contains("disk is full", StringComparison.Ordinal) || (io.HResult & 0xFFFF) == Libc.ENOSPC => new ImagePullException($"the disk holding the image cache ({cache.Root}) is full while unpacking layer {layer.Digest}", e),
                InvalidDataException or FormatException => new ImagePullException($"layer {layer.Digest} is not a valid {(MediaTypes.LayerIsGzip(layer.MediaType) == true ? "gzip-compressed " : "")}tar: {e.Message}", e),
                IOException or HttpRequestException => new ImagePullException($"layer {layer.Digest} could not be read: {e.Message}", e),
                _ => e,
            };
        }
    }

    private static long Unpack(Stream blob, OciDescriptor layer, string diffId, string root, Action<int> onBytes)
    {
        using var compressed = new HashingStream(blob, onBytes);
        var gzip = MediaTypes.LayerIsGzip(layer.MediaType) == true;
        var checkCompressed = gzip;
        if (!gzip && blob.CanSeek)
        {
            // docker-archive tars are usually plain, but may be gzip-compressed: look at the magic.
            Span<byte> magic = stackalloc byte[2];
            var n = blob.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            blob.Seek(0, SeekOrigin.Begin);
            gzip = n == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        }

        Stream tar = gzip ? new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true) : compressed;
        using var uncompressed = gzip ? new HashingStream(tar) : null;
        using var unpacker = new LayerUnpacker(root, layer.Digest);
        unpacker.Unpack((Stream?)uncompressed ?? compressed);
        if (uncompressed is not null)
        {
            uncompressed.Drain();
        }

        compressed.Drain();
        var compressedDigest = compressed.Digest();
        var uncompressedDigest = uncompressed?.Digest() ?? compressedDigest;
        if (checkCompressed && compressedDigest != layer.Digest)
        {
            throw new ImagePullException($"digest mismatch: layer {layer.Digest} arrived as {compressedDigest}");
        }

        if (!checkCompressed && !gzip && compressedDigest != layer.Digest)
        {
            throw new ImagePullException($"digest mismatch: layer {layer.Digest} arrived as {compressedDigest}");
        }

        if (uncompressedDigest != diffId)
        {
            throw new ImagePullException($"digest mismatch: layer {layer.Digest} unpacks to {uncompressedDigest}, but the image's config says {diffId}");
        }

        if (layer.Size > 0 && compressed.BytesRead != layer.Size && checkCompressed)
        {
            throw new ImagePullException($"layer {layer.Digest} should be {layer.Size} bytes but is {compressed.BytesRead}");
        }

        return unpacker.BytesWritten;
    }

    private static OciManifest Parse(byte[] body)
    {
        try
        {
            return JsonSerializer.Deserialize(body, ImagesJsonContext.Default.OciManifest) ?? throw new ImagePullException("its manifest is empty");
        }
        catch (JsonException e)
        {
            throw new ImagePullException($"its manifest is not valid JSON: {e.Message}", e);
        }
    }
}
