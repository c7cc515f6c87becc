using Trainyard.Model;

namespace Trainyard.Images.Cache;

/// <summary>An image in the cache: what it was pulled as, its manifest and config digests, and its layers bottom first.</summary>
public sealed record CachedImage
{
    /// <summary>The canonical location (<see cref="ImageLocation.ToString"/>) the image was pulled as.</summary>
    public required string Name { get; init; }

    public required string ManifestDigest { get; init; }

    public required string ConfigDigest { get; init; }

    /// <summary>The layers' uncompressed digests (diff ids), bottom first.</summary>
    public required List<string> Layers { get; init; }

    /// <summary>The bytes the layers take compressed (as pulled).</summary>
    public long Size { get; init; }

    [System.Text.Json.Serialization.JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset Pulled { get; init; }
}
