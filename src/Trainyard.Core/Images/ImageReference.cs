using System.Text.RegularExpressions;

namespace Trainyard.Images;

/// <summary>
/// A reference to an image in a registry, as Docker writes it: <c>[registry[:port]/]repository[:tag][@digest]</c>.
/// Docker Hub short names are normalised (<c>busybox</c> → <c>docker.io/library/busybox:latest</c>).
/// </summary>
public sealed partial record ImageReference
{
    public const string DockerHub = "docker.io";

    /// <summary>The registry as written (<c>docker.io</c> for Docker Hub), with its port.</summary>
    public required string Domain { get; init; }

    public required string Repository { get; init; }

    public string? Tag { get; init; }

    public string? Digest { get; init; }

    /// <summary>The host (and port) the registry API answers on.</summary>
    public string RegistryHost => Domain == DockerHub ? "registry-1.docker.io" : Domain;

    /// <summary>What the manifest is fetched by: the digest when there is one, else the tag.</summary>
    public string ManifestReference => Digest ?? Tag ?? "latest";

    public override string ToString() =>
        $"{Domain}/{Repository}" + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The same repository at <paramref name="digest"/>.</summary>
    public ImageReference WithDigest(string digest) => this with { Digest = digest };

    public static ImageReference Parse(string text) =>
        TryParse(text, out var reference, out var problem) ? reference! : throw new FormatException(problem);

    /// <summary>Parses <paramref name="text"/>; <paramref name="problem"/> says what is wrong when it is not a reference.</summary>
    public static bool TryParse(string text, out ImageReference? reference, out string? problem)
    {
        reference = null;
        problem = null;
        if (string.IsNullOrEmpty(text) || text.Length > 4096 || text.Any(char.IsWhiteSpace))
        {
            problem = "an image reference has no spaces and is not empty";
            return false;
        }

        string? digest = null;
        var name = text;
        var at = text.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = text[(at + 1)..];
            name = text[..at];
            if (!DigestPattern().IsMatch(digest))
            {
                problem = $"the digest '{digest}' is not sha256:<64 hex digits> (or sha512:<128>)";
                return false;
            }
        }

        string? tag = null;
        var lastSlash = name.LastIndexOf('/');
        var colon = name.LastIndexOf(':');
        if (colon > lastSlash)
        {
            tag = name[(colon + 1)..];
            name = name[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                problem = $"the tag '{tag}' is not valid (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')";
                return false;
            }
        }

        var domain = DockerHub;
        var path = name;
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var first = name[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" || first.Any(char.IsUpper))
            {
                domain = first;
                path = name[(slash + 1)..];
                if (!DomainPattern().IsMatch(domain))
                {
                    problem = $"the registry '{domain}' is not a host name or address with an optional port";
                    return false;
                }
            }
        }

        if (domain is DockerHub or "index.docker.io")
        {
            domain = DockerHub;
            if (!path.Contains('/', StringComparison.Ordinal))
            {
                path = "library/" + path;
            }
        }

        if (path.Length == 0 || path.Split('/').Any(c => !ComponentPattern().IsMatch(c)))
        {
            problem = $"the repository '{path}' must be lowercase letters and digits separated by '.', '_', '__', '-' or '/'";
            return false;
        }

        if (tag is null && digest is null)
        {
            tag = "latest";
        }

        reference = new ImageReference { Domain = domain, Repository = path, Tag = tag, Digest = digest };
        return true;
    }

    [GeneratedRegex("^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$")]
    private static partial Regex DigestPattern();

    [GeneratedRegex(@"^[\w][\w.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(:[0-9]+)?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex("^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*$")]
    private static partial Regex ComponentPattern();
}
