namespace Trainyard.Images.Oci;

/// <summary>The media types Trainyard reads, and those it refuses by name.</summary>
public static class MediaTypes
{
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

    public const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";

    public const string DockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar";
    public const string OciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string OciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
    public const string DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    public const string OciNonDistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    public const string OciNonDistributableGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

    /// <summary>What a manifest request accepts.</summary>
    public static readonly string[] ManifestAccept = [OciIndex, OciManifest, DockerManifestList, DockerManifest];

    public static bool IsIndex(string? mediaType) => mediaType is OciIndex or DockerManifestList;

    public static bool IsManifest(string? mediaType) => mediaType is OciManifest or DockerManifest;

    /// <summary>Whether a layer of <paramref name="mediaType"/> is gzip-compressed; null when Trainyard does not read it.</summary>
    public static bool? LayerIsGzip(string? mediaType) => mediaType switch
    {
        DockerLayerGzip or OciLayerGzip => true,
        OciLayer => false,
        _ => null,
    };

    /// <summary>Why a layer cannot be used, or null when it can.</summary>
    public static string? LayerProblem(string? mediaType) => mediaType switch
    {
        DockerLayerGzip or OciLayerGzip or OciLayer => null,
        OciLayerZstd or "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd" => $"its layers are zstd-compressed ({mediaType}), which Trainyard does not read yet; push it with gzip layers (podman push --compression-format gzip)",
        DockerForeignLayer or OciNonDistributable or OciNonDistributableGzip => $"it has a foreign (non-distributable) layer ({mediaType}), which a registry does not serve; such images (Windows base layers) cannot run here",
        _ => $"it has a layer of an unknown media type ({mediaType})",
    };
}
