using Trainyard.Hosts;

namespace Trainyard.Executors;

/// <summary>An executor whose hosts outlive the server, so that a restarted server can follow them again.</summary>
public interface IReattachingExecutor : IExecutor
{
    /// <summary>Follows hosts placed before a restart; <paramref name="state"/> is what <see cref="IHostEvents.OnPlaced"/> reported.</summary>
    IReadOnlyList<Task<HostResult>> Attach(IReadOnlyList<HostPlan> hosts, string state, IHostEvents events, CancellationToken stop);
}
