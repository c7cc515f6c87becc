using Microsoft.Extensions.Logging;
using Trainyard.DataPlane.FastFile;

namespace Trainyard.Hosts;

/// <summary>
/// FastFile channels: mounted before the algorithm starts (the sandbox's recursive bind of the host
/// directory carries the mounts into /opt/ml), unmounted when the host ends however it ends. Where FUSE
/// cannot be used, the channel is delivered as File mode and the log says why.
/// </summary>
public sealed partial class HostRuntime
{
    private readonly List<FastFileMount> _mounts = [];

    /// <summary>Mounts every FastFile channel it can; returns the names of those that were mounted.</summary>
    private async Task<HashSet<string>> MountFastFileChannelsAsync(CancellationToken stop)
    {
        var mounted = new HashSet<string>(StringComparer.Ordinal);
        var jobLog = new JobLogLogger(this, logger);
        foreach (var channel in plan.Channels.Where(c => c.InputMode == "FastFile"))
        {
            var mountPoint = Path.Combine(plan.HostDirectory, "input", "data", channel.Name);
            try
            {
                var mount = await FastFileMount.MountAsync(store, channel.Objects, mountPoint, new FastFileOptions(), jobLog, stop).ConfigureAwait(false);
                _mounts.Add(mount);
                mounted.Add(channel.Name);
                Note($"Channel '{channel.Name}' is FastFile: {mount.FileCount} objects ({DataPlane.FileChannelLoader.Format(mount.TotalBytes)}) mounted read-only; bytes are fetched when the algorithm reads them.");
            }
            catch (FastFileUnavailableException e)
            {
                Note($"Channel '{channel.Name}' is FastFile, but FUSE is not available here ({e.Message}): it is delivered as File mode on this host.");
            }
        }

        return mounted;
    }

    private async Task UnmountFastFileChannelsAsync()
    {
        foreach (var mount in _mounts)
        {
            await mount.DisposeAsync().ConfigureAwait(false);
        }

        _mounts.Clear();
    }

    /// <summary>Sends FastFile's warnings and errors (a read that failed) to the host's log as well as the server's.</summary>
    private sealed class JobLogLogger(HostRuntime host, ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning || inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
            if (logLevel >= LogLevel.Warning)
            {
                host.Note(formatter(state, exception));
            }
        }
    }
}
