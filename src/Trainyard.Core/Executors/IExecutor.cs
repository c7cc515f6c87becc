using Trainyard.Hosts;

namespace Trainyard.Executors;

/// <summary>
/// Places the hosts of a job somewhere — this machine, a cluster — and runs the one host runtime on
/// each. It owns where hosts run, signals and exit codes; not S3, not job status.
/// </summary>
public interface IExecutor
{
    /// <summary>The name configuration selects the executor by.</summary>
    string Name { get; }

    /// <summary>
    /// Starts every host of the job; each task completes when its host has ended. Cancelling
    /// <paramref name="stop"/> stops the hosts (SIGTERM, grace period, SIGKILL).
    /// </summary>
    IReadOnlyList<Task<HostResult>> Start(IReadOnlyList<HostPlan> hosts, IHostEvents events, CancellationToken stop);
}
