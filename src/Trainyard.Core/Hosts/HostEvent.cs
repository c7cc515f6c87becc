using System.Text.Json.Serialization;
using Trainyard.Model;

namespace Trainyard.Hosts;

/// <summary>One line of a host's events file: a phase change, download progress, or how the host ended.</summary>
public sealed record HostEvent
{
    /// <summary>The events format the host writes (<see cref="HostPlan.CurrentFormatVersion"/>); readers skip what they do not know.</summary>
    [JsonPropertyName("V")]
    public int Version { get; init; } = HostPlan.CurrentFormatVersion;

    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset Time { get; init; }
    public HostPhase? Phase { get; init; }
    public long[]? Progress { get; init; }

    /// <summary>An image pull's progress: bytes done, bytes in all, layers done, layers in all.</summary>
    public long[]? ImageProgress { get; init; }
    public HostResult? Result { get; init; }

    /// <summary>The cluster node the host runs on, reported once when it starts.</summary>
    public string? Node { get; init; }

    /// <summary>The host received a stop request and is stopping its algorithm.</summary>
    public bool? Stopping { get; init; }
}
