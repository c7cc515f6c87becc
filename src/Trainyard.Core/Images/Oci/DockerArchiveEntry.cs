namespace Trainyard.Images.Oci;

/// <summary>One image of a <c>docker save</c> archive's <c>manifest.json</c>.</summary>
public sealed record DockerArchiveEntry
{
    public string? Config { get; init; }
    public List<string>? RepoTags { get; init; }
    public List<string>? Layers { get; init; }
}
