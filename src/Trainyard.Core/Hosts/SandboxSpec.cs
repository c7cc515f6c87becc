namespace Trainyard.Hosts;

/// <summary>
/// What one host's sandbox is, before it becomes a bubblewrap command line: its root, mounts,
/// identity and command. Built in one place (<see cref="SandboxCommand"/>) for local executables and
/// images alike, so that further isolation (namespaces, capabilities, seccomp, limits) is added here.
/// </summary>
public sealed record SandboxSpec
{
    /// <summary>The algorithm's argv; the first element is looked up on <see cref="PathVariable"/> inside.</summary>
    public required IReadOnlyList<string> Argv { get; init; }

    /// <summary>Mounts in the order bubblewrap makes them; the first one usually provides <c>/</c>.</summary>
    public required IReadOnlyList<SandboxMount> Mounts { get; init; }

    public required string Hostname { get; init; }

    /// <summary>The working directory inside.</summary>
    public required string WorkingDirectory { get; init; }

    public required string PathVariable { get; init; }

    public string Home { get; init; } = "/root";

    /// <summary>Image hosts: the job's user namespace (a descriptor the child inherits), and the ids to run as inside it.</summary>
    public int? UserNamespaceFd { get; init; }

    public int Uid { get; init; }

    public int Gid { get; init; }

    /// <summary>Environment of the image itself (its config's Env), under the container contract's variables.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> BaseEnvironment { get; init; } = [];
}

/// <summary>One mount of a sandbox.</summary>
public abstract record SandboxMount(string Destination)
{
    public sealed record Bind(string Source, string Destination, bool ReadOnly) : SandboxMount(Destination);

    public sealed record Tmpfs(string Destination) : SandboxMount(Destination);

    public sealed record Dev(string Destination) : SandboxMount(Destination);

    public sealed record Proc(string Destination) : SandboxMount(Destination);

    public sealed record Dir(string Destination) : SandboxMount(Destination);

    /// <summary>A symbolic link at <paramref name="Destination"/> pointing to <paramref name="Target"/> (merged-/usr's <c>/bin → usr/bin</c>).</summary>
    public sealed record Symlink(string Target, string Destination) : SandboxMount(Destination);
}
