using System.Text.Json.Serialization;

namespace Trainyard.Images.Oci;

/// <summary>The platform of one manifest of an index.</summary>
public sealed record OciPlatform
{
    [JsonPropertyName("architecture")]
    public string? Architecture { get; init; }

    [JsonPropertyName("os")]
    public string? Os { get; init; }

    [JsonPropertyName("variant")]
    public string? Variant { get; init; }

    public override string ToString() => $"{Os}/{Architecture}" + (Variant is null ? "" : "/" + Variant);
}
