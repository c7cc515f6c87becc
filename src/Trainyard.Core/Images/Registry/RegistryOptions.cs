namespace Trainyard.Images.Registry;

/// <summary>How Trainyard talks to registries.</summary>
public sealed record RegistryOptions
{
    /// <summary>Registries (<c>host[:port]</c>) that may be reached over plain HTTP or with an unverified certificate.</summary>
    public IReadOnlySet<string> InsecureRegistries { get; init; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a registry may take to start answering a request (a blob's body then streams without a limit).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public bool IsInsecure(string hostWithPort) =>
        InsecureRegistries.Contains(hostWithPort)
        || (hostWithPort.LastIndexOf(':') is var colon and > 0 && !hostWithPort.EndsWith(']') && InsecureRegistries.Contains(hostWithPort[..colon]));
}
