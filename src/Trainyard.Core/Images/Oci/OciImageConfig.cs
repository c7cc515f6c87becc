using System.Text.Json.Serialization;

namespace Trainyard.Images.Oci;

/// <summary>An image's configuration blob: its platform, how to run it, and its layers' uncompressed digests.</summary>
public sealed record OciImageConfig
{
    [JsonPropertyName("architecture")]
    public string? Architecture { get; init; }

    [JsonPropertyName("os")]
    public string? Os { get; init; }

    [JsonPropertyName("config")]
    public OciRunConfig? Config { get; init; }

    [JsonPropertyName("rootfs")]
    public OciRootFs? RootFs { get; init; }
}

/// <summary>How the image runs (<c>config</c> of the image configuration; Docker's names).</summary>
public sealed record OciRunConfig
{
    public List<string>? Entrypoint { get; init; }
    public List<string>? Cmd { get; init; }
    public List<string>? Env { get; init; }
    public string? WorkingDir { get; init; }
    public string? User { get; init; }
}

/// <summary>The layers' uncompressed digests, bottom first.</summary>
public sealed record OciRootFs
{
    [JsonPropertyName("type")]
    public string? Type { get; init; }

    [JsonPropertyName("diff_ids")]
    public List<string>? DiffIds { get; init; }
}
