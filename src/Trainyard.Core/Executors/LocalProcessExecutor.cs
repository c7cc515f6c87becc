using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Trainyard.Hosts;
using Trainyard.Interop;
using Trainyard.Supervision;

namespace Trainyard.Executors;

/// <summary>
/// Runs each host of a job on this machine as a <c>trainyard host</c> process in a session of its own —
/// the way the Slurm executor runs a task per node — reporting through the job directory (events, log, the
/// host's lock). The hosts outlive the server: a restarted server follows them again from where it stopped
/// reading (<see cref="Attach"/>), and a host whose process vanished meanwhile fails the job naming it.
/// </summary>
public sealed partial class LocalProcessExecutor : IReattachingExecutor, IDisposable
{
    private readonly ILogger _logger;
    private readonly string trainyard;

    /// <summary>Spare host processes, started warm ahead of need; a job's host takes one instead of starting cold.</summary>
    private readonly Queue<Process> _standby = new();
    private readonly Lock _standbyLock = new();
    private readonly int _standbyCount;
    private bool _disposed;

    /// <param name="standby">How many warm spare host processes to keep (0: every host starts cold).</param>
    public LocalProcessExecutor(string trainyard, ILoggerFactory loggers, int standby = 2)
    {
        this.trainyard = trainyard;
        _logger = loggers.CreateLogger<LocalProcessExecutor>();
        _standbyCount = standby;
        Replenish();
    }

    public string Name => "local";

    public IReadOnlyList<Task<HostResult>> Start(IReadOnlyList<HostPlan> hosts, IHostEvents events, CancellationToken stop)
    {
        var monitor = new LocalJobMonitor(hosts, events, _logger);
        _ = monitor.RunAsync(() => Launch(hosts, events), stop);
        return monitor.Results;
    }

    public IReadOnlyList<Task<HostResult>> Attach(IReadOnlyList<HostPlan> hosts, string state, IHostEvents events, CancellationToken stop)
    {
        var monitor = new LocalJobMonitor(hosts, events, _logger);
        _ = monitor.RunAsync(() => Reattach(hosts, ParseState(state)), stop);
        return monitor.Results;
    }

    /// <summary>The executor state of a job: each host's PID, <c>algo-1=1234,algo-2=1235</c> (<c>starting</c> before they are known).</summary>
    public static Dictionary<string, int> ParseState(string state) =>
        state.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2))
            .Where(kv => kv.Length == 2 && int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .ToDictionary(kv => kv[0], kv => int.Parse(kv[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);

    private Dictionary<string, HostHandle> Launch(IReadOnlyList<HostPlan> hosts, IHostEvents events)
    {
        var planFile = HostPlanFile.Write(hosts);
        // Recorded before the first host starts: a server that dies while starting them finds the job placed,
        // and on restart looks for each host's process (or starts the ones that never ran).
        events.OnPlaced("starting");
        var handles = new Dictionary<string, HostHandle>(StringComparer.Ordinal);
        try
        {
            foreach (var plan in hosts)
            {
                handles[plan.HostName] = Spawn(plan, planFile);
            }
        }
        catch
        {
            foreach (var handle in handles.Values)
            {
                handle.Signal(Libc.SIGKILL);
            }

            throw;
        }

        events.OnPlaced(State(hosts, handles));
        LogStarted(_logger, hosts[0].JobName, hosts.Count, trainyard);
        return handles;
    }

    private static string State(IReadOnlyList<HostPlan> hosts, Dictionary<string, HostHandle> handles) =>
        string.Join(',', hosts.Select(h => string.Create(CultureInfo.InvariantCulture, $"{h.HostName}={handles[h.HostName].Pid}")));

    /// <summary>
    /// The hosts of a job placed before a restart: the recorded PIDs, or — when the server died while starting
    /// them — the <c>trainyard host</c> processes of the plan, and a fresh start of a host that never ran.
    /// </summary>
    private Dictionary<string, HostHandle> Reattach(IReadOnlyList<HostPlan> hosts, Dictionary<string, int> pids)
    {
        var planFile = HostPlanFile.PathOf(hosts);
        var handles = new Dictionary<string, HostHandle>(StringComparer.Ordinal);
        foreach (var plan in hosts)
        {
            if (pids.TryGetValue(plan.HostName, out var pid))
            {
                handles[plan.HostName] = new HostHandle(pid, null);
            }
            else if ((HostLock.Holder(plan) ?? FindHostProcess(planFile, plan)) is { } found)
            {
                handles[plan.HostName] = new HostHandle(found, null);
            }
            else if (!File.Exists(plan.EventsPath) && !File.Exists(HostLock.PathOf(plan)))
            {
                LogStartedLate(_logger, plan.JobName, plan.HostName);
                handles[plan.HostName] = Spawn(plan, planFile);
            }
            else
            {
                handles[plan.HostName] = new HostHandle(0, null);
            }
        }

        return handles;
    }

    /// <summary>The PID of a running <c>trainyard host</c> of <paramref name="planFile"/>'s <paramref name="host"/>, found in /proc.</summary>
    private static int? FindHostProcess(string planFile, HostPlan host)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && HostLock.IsHostProcess(pid, planFile, host))
            {
                return pid;
            }
        }

        return null;
    }

    private HostHandle Spawn(HostPlan plan, string planFile)
    {
        var hostsDirectory = Directory.CreateDirectory(Path.GetDirectoryName(plan.EventsPath)!).FullName;
        var output = Path.Combine(hostsDirectory, plan.HostName + ".host.out");
        File.Delete(HostLock.PathOf(plan));
        while (TakeStandby() is { } spare)
        {
            try
            {
                spare.StandardInput.Write(StandbyHost.Assignment(planFile, plan.HostName, output));
                spare.StandardInput.Close();
                Replenish();
                return new HostHandle(spare.Id, spare);
            }
            catch (IOException)
            {
                // It died waiting: take the next, or start one cold.
                spare.Dispose();
            }
        }

        Replenish();
        // sh hands its PID on (exec): setsid gives the host a session of its own (it is not a group leader,
        // so setsid does not fork), and the host writes to a file, not to pipes that die with the server.
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (var arg in (string[])["-c", "o=$1; shift; exec setsid \"$@\" >>\"$o\" 2>&1 </dev/null", "sh", output, trainyard, "host", "--plan", planFile, "--host", plan.HostName])
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("The host process did not start.");
        return new HostHandle(process.Id, process);
    }

    private Process? TakeStandby()
    {
        lock (_standbyLock)
        {
            while (_standby.TryDequeue(out var spare))
            {
                if (!spare.HasExited)
                {
                    return spare;
                }

                spare.Dispose();
            }

            return null;
        }
    }

    /// <summary>Starts spare hosts up to the standby count, in the background.</summary>
    private void Replenish()
    {
        lock (_standbyLock)
        {
            if (_disposed)
            {
                return;
            }

            while (_standby.Count < _standbyCount)
            {
                // Its own session, as every host; its input is the server's pipe (end of input ends it).
                var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, RedirectStandardInput = true };
                foreach (var arg in (string[])["-c", "exec setsid \"$@\" >/dev/null 2>&1", "sh", trainyard, "host", "--standby"])
                {
                    start.ArgumentList.Add(arg);
                }

                try
                {
                    _standby.Enqueue(Process.Start(start)!);
                }
                catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
                {
                    LogStandbyFailed(_logger, e, trainyard);
                    return;
                }
            }
        }
    }

    /// <summary>Ends the spare hosts (their input closes); the hosts of jobs go on.</summary>
    public void Dispose()
    {
        lock (_standbyLock)
        {
            _disposed = true;
            while (_standby.TryDequeue(out var spare))
            {
                try
                {
                    spare.StandardInput.Close();
                }
                catch (IOException)
                {
                }

                spare.Dispose();
            }
        }
    }

    /// <summary>One host process: its PID, and the process itself when this server started it.</summary>
    internal sealed class HostHandle(int pid, Process? process)
    {
        public int Pid { get; } = pid;

        public Process? Process { get; } = process;

        public void Signal(int signal)
        {
            if (Pid > 0 && (Process is { HasExited: false } || Process is null))
            {
                Libc.Kill(Pid, signal);
            }
        }
    }

    [LoggerMessage(EventId = 720, Level = LogLevel.Information, Message = "Job {Job}: {Hosts} host processes started ({Trainyard} host)")]
    internal static partial void LogStarted(ILogger logger, string job, int hosts, string trainyard);

    [LoggerMessage(EventId = 723, Level = LogLevel.Warning, Message = "Starting a spare host process ({Trainyard} host --standby) failed; hosts start cold")]
    internal static partial void LogStandbyFailed(ILogger logger, Exception exception, string trainyard);

    [LoggerMessage(EventId = 722, Level = LogLevel.Information, Message = "Job {Job}: host {Host} had not been started when the server stopped; starting it now")]
    internal static partial void LogStartedLate(ILogger logger, string job, string host);

    [LoggerMessage(EventId = 721, Level = LogLevel.Warning, Message = "Job {Job}: host {Host} (PID {Pid}) ended without reporting a result")]
    internal static partial void LogVanished(ILogger logger, string job, string host, int pid);
}

/// <summary>
/// Follows the host processes of one local job: replays their events and logs, notices a host that ended
/// without a result (its lock is free and its PID is no longer a host of this plan), and stops them — the
/// stop file and SIGTERM to each host, which gives its algorithm SIGTERM and the grace period; SIGKILL
/// after the grace period and a margin.
/// </summary>
internal sealed class LocalJobMonitor
{
    private readonly IReadOnlyList<HostPlan> _hosts;
    private readonly ILogger _logger;
    private readonly Dictionary<string, TaskCompletionSource<HostResult>> _results;
    private readonly List<HostFollower> _followers;

    public LocalJobMonitor(IReadOnlyList<HostPlan> hosts, IHostEvents events, ILogger logger)
    {
        _hosts = hosts;
        _logger = logger;
        _results = hosts.ToDictionary(h => h.HostName, _ => new TaskCompletionSource<HostResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        _followers = hosts.Select(h => new HostFollower(h, events)).ToList();
    }

    public IReadOnlyList<Task<HostResult>> Results => _hosts.Select(h => _results[h.HostName].Task).ToList();

    /// <summary>Beyond the grace period, how long a host may take to report after its algorithm was killed.</summary>
    internal static readonly TimeSpan KillMargin = TimeSpan.FromSeconds(10);

    private const int MaxFailuresInARow = 20;

    public async Task RunAsync(Func<Dictionary<string, LocalProcessExecutor.HostHandle>> place, CancellationToken stop)
    {
        Dictionary<string, LocalProcessExecutor.HostHandle> handles;
        try
        {
            handles = place();
        }
        catch (Exception e)
        {
            FailAll($"InternalServerError: the job's host processes could not be started: {e.Message}");
            return;
        }

        var failures = -1;
        var started = DateTimeOffset.MinValue;
        var stopState = new StopState();
        await Supervisor.Run($"The host monitor of {_hosts[0].JobName}", async _ =>
        {
            failures = DateTimeOffset.UtcNow - started > TimeSpan.FromMinutes(1) ? 0 : failures + 1;
            started = DateTimeOffset.UtcNow;
            if (failures >= MaxFailuresInARow)
            {
                foreach (var handle in handles.Values)
                {
                    handle.Signal(Libc.SIGKILL);
                }

                FailAll($"InternalServerError: following the job's host processes failed {MaxFailuresInARow} times in a row; see the server log.");
                return;
            }

            await FollowAsync(handles, stopState, stop).ConfigureAwait(false);
        }, _logger, CancellationToken.None).ConfigureAwait(false);

        // Every host has ended: a FastFile mount still there belonged to one that died without unmounting.
        DataPlane.FastFile.FastFileMount.UnmountStale(Path.GetDirectoryName(HostPlanFile.PathOf(_hosts))!, _logger);
    }

    private sealed class StopState
    {
        public bool Requested;
        public DateTimeOffset? KillAt;
    }

    private async Task FollowAsync(Dictionary<string, LocalProcessExecutor.HostHandle> handles, StopState stopState, CancellationToken stop)
    {
        var planFile = HostPlanFile.PathOf(_hosts);
        var delay = MinDelay;
        var lastLivenessCheck = DateTimeOffset.UtcNow;
        // Wakes the loop as soon as a host this server started exits.
        using var wake = new SemaphoreSlim(0);
        foreach (var handle in handles.Values)
        {
            if (handle.Process is { } process)
            {
                _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => Release(wake), TaskScheduler.Default);
            }
        }

        using var stopped = stop.Register(() => Release(wake));
        while (true)
        {
            var active = false;
            for (var i = 0; i < _followers.Count; i++)
            {
                active |= _followers[i].Poll();
                if (_followers[i].Result is { } result)
                {
                    _results[result.HostName].TrySetResult(result);
                }
            }

            if (_results.Values.All(r => r.Task.IsCompleted))
            {
                return;
            }

            if (stop.IsCancellationRequested && !stopState.Requested)
            {
                stopState.Requested = true;
                await File.WriteAllTextAsync(_hosts[0].StopPath, "stop\n", CancellationToken.None).ConfigureAwait(false);
                foreach (var (host, handle) in handles)
                {
                    if (!_results[host].Task.IsCompleted && IsHost(handle, planFile, host))
                    {
                        handle.Signal(Libc.SIGTERM);
                    }
                }

                stopState.KillAt = DateTimeOffset.UtcNow + _hosts[0].StopGracePeriod + KillMargin;
            }

            if (stopState.KillAt is { } killAt && DateTimeOffset.UtcNow > killAt)
            {
                stopState.KillAt = null;
                foreach (var (host, handle) in handles)
                {
                    if (!_results[host].Task.IsCompleted && IsHost(handle, planFile, host))
                    {
                        handle.Signal(Libc.SIGKILL);
                    }
                }
            }

            var exited = handles.Values.Any(h => h.Process is { HasExited: true });
            if (exited || DateTimeOffset.UtcNow - lastLivenessCheck >= LivenessInterval)
            {
                lastLivenessCheck = DateTimeOffset.UtcNow;
                CheckLiveness(handles, planFile, stopState.Requested);
                if (_results.Values.All(r => r.Task.IsCompleted))
                {
                    return;
                }
            }

            // Quick after a sign of life, slower while the hosts are quiet.
            delay = active ? MinDelay : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxDelay.Ticks));
            await wake.WaitAsync(delay, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Whether the handle's PID is still its host: a process this server started (not yet reaped), or one that /proc and the lock say is.</summary>
    private bool IsHost(LocalProcessExecutor.HostHandle handle, string planFile, string host) =>
        handle.Process is { } process ? !process.HasExited : HostLock.IsHostProcess(handle.Pid, planFile, _hosts.First(h => h.HostName == host));

    private static void Release(SemaphoreSlim wake)
    {
        try
        {
            wake.Release();
        }
        catch (ObjectDisposedException)
        {
            // the follow ended
        }
    }

    private void CheckLiveness(Dictionary<string, LocalProcessExecutor.HostHandle> handles, string planFile, bool stopRequested)
    {
        for (var i = 0; i < _hosts.Count; i++)
        {
            var plan = _hosts[i];
            if (_results[plan.HostName].Task.IsCompleted)
            {
                continue;
            }

            if (!handles.TryGetValue(plan.HostName, out var handle))
            {
                _results[plan.HostName].TrySetResult(new HostResult { HostName = plan.HostName, Error = $"InternalServerError: the server has no record of host {plan.HostName}'s process." });
                continue;
            }

            var gone = handle.Process is { } process ? process.HasExited : !HostLock.IsAlive(plan, planFile, handle.Pid);
            if (!gone)
            {
                continue;
            }

            // Its last words may have landed after the poll above.
            _followers[i].Poll();
            if (_followers[i].Result is { } result)
            {
                _results[plan.HostName].TrySetResult(result);
                continue;
            }

            LocalProcessExecutor.LogVanished(_logger, plan.JobName, plan.HostName, handle.Pid);
            var how = handle.Process is { HasExited: true } p
                ? string.Create(CultureInfo.InvariantCulture, $"exited with code {p.ExitCode}")
                : "vanished (while the server was not watching)";
            _results[plan.HostName].TrySetResult(new HostResult
            {
                HostName = plan.HostName,
                Stopped = stopRequested,
                Error = stopRequested ? null : string.Create(CultureInfo.InvariantCulture,
                    $"InternalServerError: host {plan.HostName}'s process (PID {handle.Pid}) {how} without reporting a result{LastWords(plan)}"),
            });
        }
    }

    /// <summary>The last line the host process printed (its own errors, not the algorithm's), for the reason.</summary>
    private static string LastWords(HostPlan plan)
    {
        try
        {
            var path = Path.Combine(Path.GetDirectoryName(plan.EventsPath)!, plan.HostName + ".host.out");
            var last = File.ReadLines(path).LastOrDefault(l => !string.IsNullOrWhiteSpace(l));
            return last is null ? "." : ": " + (last.Length > 300 ? last[..300] + "…" : last.Trim());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ".";
        }
    }

    private void FailAll(string reason)
    {
        foreach (var (host, result) in _results)
        {
            result.TrySetResult(new HostResult { HostName = host, Error = reason });
        }
    }

    private static readonly TimeSpan MinDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LivenessInterval = TimeSpan.FromMilliseconds(500);
}
