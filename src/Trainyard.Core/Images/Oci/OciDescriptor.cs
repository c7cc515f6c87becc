using System.Text.Json.Serialization;

namespace Trainyard.Images.Oci;

/// <summary>An OCI content descriptor: what a manifest or index says about one blob or manifest.</summary>
public sealed record OciDescriptor
{
    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    [JsonPropertyName("digest")]
    public required string Digest { get; init; }

    [JsonPropertyName("size")]
    public long Size { get; init; }

    [JsonPropertyName("platform")]
    public OciPlatform? Platform { get; init; }

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; init; }

    [JsonPropertyName("urls")]
    public List<string>? Urls { get; init; }
}
