namespace Trainyard.Hosts;

/// <summary>How one host ended.</summary>
public sealed record HostResult
{
    public required string HostName { get; init; }

    /// <summary>The algorithm's exit code, when it exited on its own.</summary>
    public int? ExitCode { get; init; }

    /// <summary>The signal that ended the algorithm, when one did.</summary>
    public int? Signal { get; init; }

    /// <summary>The text of <c>/opt/ml/output/failure</c>, when the algorithm wrote one.</summary>
    public string? FailureText { get; init; }

    /// <summary>A platform error that kept the host from training (data, sandbox); it is a ClientError.</summary>
    public string? Error { get; init; }

    /// <summary>The host was asked to stop.</summary>
    public bool Stopped { get; init; }

    /// <summary>The host stopped its algorithm itself because the plan's deadline passed (the job's MaxRuntimeInSeconds).</summary>
    public bool TimedOut { get; init; }

    public bool Succeeded => Error is null && ExitCode == 0;
}
