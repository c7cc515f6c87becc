using System.Globalization;
using Microsoft.Extensions.Logging;
using Trainyard.Hosts;
using Trainyard.Supervision;

namespace Trainyard.Slurm;

/// <summary>
/// Follows one Slurm job: submits it (or re-attaches to it), replays the hosts' events and logs, maps
/// Slurm's states onto host results (PENDING is still Starting; NODE_FAIL, CANCELLED, TIMEOUT … fail
/// the hosts that did not report), enforces MaxPendingTimeInSeconds, and stops it: the stop file and
/// SIGTERM to every task, then — after the grace period — scancel.
/// </summary>
internal sealed class SlurmJobMonitor
{
    private readonly SlurmOptions _options;
    private readonly IReadOnlyList<HostPlan> _hosts;
    private readonly IHostEvents _events;
    private readonly ILogger _logger;
    private readonly Dictionary<string, TaskCompletionSource<HostResult>> _results;
    private readonly List<HostFollower> _followers;

    private readonly SlurmQueue _queue;

    public SlurmJobMonitor(SlurmOptions options, SlurmQueue queue, IReadOnlyList<HostPlan> hosts, IHostEvents events, ILogger logger)
    {
        _queue = queue;
        _options = options;
        _hosts = hosts;
        _events = events;
        _logger = logger;
        _results = hosts.ToDictionary(h => h.HostName, _ => new TaskCompletionSource<HostResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        _followers = hosts.Select(h => new HostFollower(h, events)).ToList();
    }

    public IReadOnlyList<Task<HostResult>> Results => _hosts.Select(h => _results[h.HostName].Task).ToList();

    /// <summary>How many unexpected errors in a row end the following (the job then fails saying so).</summary>
    private const int MaxFailuresInARow = 20;

    public async Task RunAsync(long? attachTo, CancellationToken stop)
    {
        try
        {
            // Supervised: an unexpected error (an IO error reading a host's events, a failing poll, a bug) resumes
            // following the same Slurm job after a back-off. The followers keep their offsets, so nothing replays.
            var failures = -1;
            var started = DateTimeOffset.MinValue;
            await Supervisor.Run($"The Slurm monitor of {_hosts[0].JobName}", async _ =>
            {
                // A follow that ran a minute before failing was healthy: the count starts again.
                failures = DateTimeOffset.UtcNow - started > TimeSpan.FromMinutes(1) ? 0 : failures + 1;
                started = DateTimeOffset.UtcNow;
                if (failures >= MaxFailuresInARow)
                {
                    FailAll($"InternalServerError: following Slurm job {_id?.ToString(CultureInfo.InvariantCulture) ?? "(not submitted)"} failed {MaxFailuresInARow} times in a row; see the server log.");
                    return;
                }

                await FollowAsync(_id ?? attachTo, stop).ConfigureAwait(false);
            }, _logger, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            if (_id is { } id)
            {
                _queue.Forget(id);
            }
        }
    }

    private long? _id;

    private async Task FollowAsync(long? attachTo, CancellationToken stop)
    {
        var job = _hosts[0].JobName;
        long id;
        var submitted = DateTimeOffset.UtcNow;
        try
        {
            if (attachTo is { } existing)
            {
                // Slurm job ids can repeat (a purged controller starts again at 1): check it is ours.
                var found = await SlurmCommands.QueryAsync(existing, CancellationToken.None).ConfigureAwait(false);
                if (found is not null && found.Name != SlurmExecutor.JobName(job))
                {
                    FailAll($"InternalServerError: Slurm job {existing} is no longer this training job's (it is '{found.Name}'); the job's hosts were lost while the server was down.");
                    return;
                }

                id = existing;
            }
            else
            {
                var script = SlurmExecutor.WriteJobFiles(_options, _hosts);
                var jobDirectory = Path.GetDirectoryName(script)!;
                var args = new List<string>
                {
                    $"--job-name={SlurmExecutor.JobName(job)}",
                    "--no-requeue",
                    $"--nodes={_hosts.Count}",
                    "--ntasks-per-node=1",
                    $"--output={Path.Combine(jobDirectory, "slurm-%j.out")}",
                    "--open-mode=append",
                };
                if (_options.Partition is { } partition)
                {
                    args.Add($"--partition={partition}");
                }

                args.AddRange(_options.ExtraSbatchArguments);
                id = await SlurmCommands.SubmitAsync(script, args, CancellationToken.None).ConfigureAwait(false);
                _events.OnPlaced(id.ToString(CultureInfo.InvariantCulture));
                SlurmExecutor.LogSubmitted(_logger, job, id, _hosts.Count);
            }
        }
        catch (Exception e)
        {
            FailAll($"InternalServerError: the job could not be submitted to Slurm: {e.Message}");
            return;
        }

        _id = id;
        var stopRequested = false;
        DateTimeOffset? killAt = null;
        DateTimeOffset? nudgeAt = null;
        var lastQuery = DateTimeOffset.MinValue;
        SlurmCommands.JobInfo? info = null;
        while (true)
        {
            Faults.Maybe("slurm.poll");
            Faults.Maybe("slurm.poll/" + job);
            foreach (var follower in _followers)
            {
                follower.Poll();
                if (follower.Result is { } result)
                {
                    _results[result.HostName].TrySetResult(result);
                }
            }

            if (_results.Values.All(r => r.Task.IsCompleted))
            {
                return;
            }

            if (stop.IsCancellationRequested && !stopRequested)
            {
                // The stop file reaches every host runtime, which gives its algorithm one SIGTERM and the
                // grace period. Slurm's own signals would reach the algorithm directly as well (every
                // process of the step), so they are kept for hosts that do not react.
                stopRequested = true;
                await File.WriteAllTextAsync(_hosts[0].StopPath, "stop\n", CancellationToken.None).ConfigureAwait(false);
                nudgeAt = DateTimeOffset.UtcNow + _options.StopNudgeAfter;
                killAt = DateTimeOffset.UtcNow + _hosts[0].StopGracePeriod + _options.KillMargin;
            }

            if (nudgeAt is { } nudge && DateTimeOffset.UtcNow > nudge)
            {
                nudgeAt = null;
                if (_followers.Any(f => f.Result is null && !f.SawStop))
                {
                    await SlurmCommands.SignalStepsAsync(id, "TERM", CancellationToken.None).ConfigureAwait(false);
                }
            }

            if (killAt is { } deadline && DateTimeOffset.UtcNow > deadline)
            {
                // scancel --signal=KILL on the job is a plain cancel; on the step it is immediate.
                await SlurmCommands.KillStepAsync(id, CancellationToken.None).ConfigureAwait(false);
                killAt = null;
            }

            if (DateTimeOffset.UtcNow - lastQuery >= _options.PollInterval)
            {
                lastQuery = DateTimeOffset.UtcNow;
                var known = false;
                try
                {
                    (known, info) = await _queue.GetAsync(id, submitted).ConfigureAwait(false);
                }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    SlurmExecutor.LogQueryFailed(_logger, e, job, id);
                }

                if (!known)
                {
                    await Task.Delay(FollowInterval, CancellationToken.None).ConfigureAwait(false);
                    continue;
                }

                if (info is { State: "PENDING" } && _hosts[0].MaxPendingTime is { } maxPending && DateTimeOffset.UtcNow - submitted > maxPending)
                {
                    await SlurmCommands.CancelAsync(id, CancellationToken.None).ConfigureAwait(false);
                    FailAll(string.Create(CultureInfo.InvariantCulture,
                        $"CapacityError: the job waited in Slurm (job {id}, reason {info.Reason}) longer than StoppingCondition.MaxPendingTimeInSeconds ({maxPending.TotalSeconds:F0} s) and was cancelled."));
                    return;
                }

                if (info is null || SlurmCommands.IsFinished(info.State))
                {
                    // Give the hosts' last words a moment to land on the shared file system.
                    await Task.Delay(300, CancellationToken.None).ConfigureAwait(false);
                    foreach (var follower in _followers)
                    {
                        follower.Poll();
                        if (follower.Result is { } result)
                        {
                            _results[result.HostName].TrySetResult(result);
                        }
                    }

                    var state = info?.State ?? "UNKNOWN";
                    foreach (var follower in _followers.Where(f => !_results[HostOf(f)].Task.IsCompleted))
                    {
                        var host = HostOf(follower);
                        var where = follower.Node is { } node ? $"{host} (node {node})" : host;
                        _results[host].TrySetResult(new HostResult
                        {
                            HostName = host,
                            Stopped = stopRequested,
                            Error = stopRequested
                                ? null
                                : $"InternalServerError: host {where} ended without reporting a result; Slurm job {id} is {state}" + (info?.Reason is { Length: > 0 } reason && reason != "None" ? $" ({reason})" : "") + ".",
                        });
                    }

                    return;
                }
            }

            await Task.Delay(FollowInterval, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>How often the hosts' events and logs are read.</summary>
    private static readonly TimeSpan FollowInterval = TimeSpan.FromMilliseconds(200);

    private string HostOf(HostFollower follower) => _hosts[_followers.IndexOf(follower)].HostName;

    private void FailAll(string reason)
    {
        foreach (var (host, result) in _results)
        {
            result.TrySetResult(new HostResult { HostName = host, Error = reason });
        }
    }
}
