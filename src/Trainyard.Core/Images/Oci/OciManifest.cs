using System.Text.Json.Serialization;

namespace Trainyard.Images.Oci;

/// <summary>
/// An image manifest or an index (a manifest list): Docker's v2 schema 2 and the OCI image spec share
/// these members. A manifest has <see cref="Config"/> and <see cref="Layers"/>; an index has <see cref="Manifests"/>.
/// </summary>
public sealed record OciManifest
{
    [JsonPropertyName("schemaVersion")]
    public int SchemaVersion { get; init; }

    [JsonPropertyName("mediaType")]
    public string? MediaType { get; init; }

    [JsonPropertyName("config")]
    public OciDescriptor? Config { get; init; }

    [JsonPropertyName("layers")]
    public List<OciDescriptor>? Layers { get; init; }

    [JsonPropertyName("manifests")]
    public List<OciDescriptor>? Manifests { get; init; }

    [JsonPropertyName("annotations")]
    public Dictionary<string, string>? Annotations { get; init; }
}
