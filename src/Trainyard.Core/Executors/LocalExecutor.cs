using Microsoft.Extensions.Logging;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.Executors;

/// <summary>Runs each host's runtime inside the server process, its algorithm in a bubblewrap sandbox on this machine.</summary>
public sealed class LocalExecutor(IObjectStore store, ILoggerFactory loggers) : IExecutor
{
    private readonly ILogger _logger = loggers.CreateLogger<LocalExecutor>();

    public string Name => "local";

    public IReadOnlyList<Task<HostResult>> Start(IReadOnlyList<HostPlan> hosts, IHostEvents events, CancellationToken stop) =>
        hosts.Select(plan => Task.Run(() => new HostRuntime(plan, store, events, _logger).RunAsync(stop), CancellationToken.None)).ToList();
}
