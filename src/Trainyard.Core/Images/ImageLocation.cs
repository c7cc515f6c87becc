namespace Trainyard.Images;

/// <summary>
/// Where an image comes from, in the transport syntax of containers/image (skopeo, podman):
/// <c>docker://REF</c> (a registry), <c>oci:DIR[:tag]</c> (an OCI image layout), <c>oci-archive:FILE[:tag]</c>
/// (a tar of one) and <c>docker-archive:FILE[:ref]</c> (what <c>docker save</c> and <c>podman save</c> write).
/// <see cref="ToString"/> is the canonical form, which a job records and its hosts parse again.
/// </summary>
public abstract record ImageLocation
{
    private ImageLocation()
    {
    }

    /// <summary>The image as people name it in messages.</summary>
    public abstract string Display { get; }

    /// <summary>An image in a registry.</summary>
    public sealed record Registry(ImageReference Reference) : ImageLocation
    {
        public override string Display => Reference.ToString();

        public override string ToString() => "docker://" + Reference;
    }

    /// <summary>An OCI image layout directory; <see cref="Tag"/> picks a manifest by its ref name.</summary>
    public sealed record OciLayout(string Path, string? Tag) : ImageLocation
    {
        public override string Display => ToString();

        public override string ToString() => "oci:" + Path + (Tag is null ? "" : ":" + Tag);
    }

    /// <summary>A tar archive of an OCI image layout.</summary>
    public sealed record OciArchive(string Path, string? Tag) : ImageLocation
    {
        public override string Display => ToString();

        public override string ToString() => "oci-archive:" + Path + (Tag is null ? "" : ":" + Tag);
    }

    /// <summary>A <c>docker save</c> archive; <see cref="Reference"/> picks an image by its RepoTags entry.</summary>
    public sealed record DockerArchive(string Path, string? Reference) : ImageLocation
    {
        public override string Display => ToString();

        public override string ToString() => "docker-archive:" + Path + (Reference is null ? "" : ":" + Reference);
    }

    /// <summary>The transports this parser knows, as prefixes.</summary>
    public static readonly IReadOnlyList<string> Transports = ["docker://", "oci:", "oci-archive:", "docker-archive:"];

    /// <summary>True when <paramref name="text"/> starts with a transport name.</summary>
    public static bool HasTransport(string text) => Transports.Any(t => text.StartsWith(t, StringComparison.Ordinal));

    /// <summary>Parses a transport reference or, without a transport, a registry reference.</summary>
    public static bool TryParse(string text, out ImageLocation? location, out string? problem)
    {
        location = null;
        problem = null;
        if (text.StartsWith("docker://", StringComparison.Ordinal))
        {
            if (!ImageReference.TryParse(text["docker://".Length..], out var reference, out problem))
            {
                return false;
            }

            location = new Registry(reference!);
            return true;
        }

        foreach (var (prefix, make) in new (string, Func<string, string?, ImageLocation>)[]
        {
            ("oci-archive:", (p, t) => new OciArchive(p, t)),
            ("docker-archive:", (p, t) => new DockerArchive(p, t)),
            ("oci:", (p, t) => new OciLayout(p, t)),
        })
        {
            if (!text.StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var rest = text[prefix.Length..];
            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            var path = colon < 0 ? rest : rest[..colon];
            var tag = colon < 0 ? null : rest[(colon + 1)..];
            if (!System.IO.Path.IsPathFullyQualified(path))
            {
                problem = $"the path '{path}' of {prefix[..^1]} must be absolute";
                return false;
            }

            if (tag is { Length: 0 })
            {
                tag = null;
            }

            location = make(System.IO.Path.GetFullPath(path), tag);
            return true;
        }

        if (ImageReference.TryParse(text, out var plain, out problem))
        {
            location = new Registry(plain!);
            return true;
        }

        return false;
    }

    public static ImageLocation Parse(string text) =>
        TryParse(text, out var location, out var problem) ? location! : throw new FormatException($"'{text}' is not an image reference: {problem}.");
}
