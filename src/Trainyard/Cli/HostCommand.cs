using System.CommandLine;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.Cli;

/// <summary>
/// <c>trainyard host --plan FILE</c>: runs one host of a job — the same host runtime the local executor
/// runs inside the server — as a process of its own, placed by a cluster executor (a Slurm task). The
/// host is <c>--host</c>, or the node's index in the allocation (<c>SLURM_PROCID</c>). SIGTERM, or the
/// job's stop file appearing, stops it (SIGTERM to the algorithm, grace period, SIGKILL).
/// </summary>
internal static class HostCommand
{
    public static Command Create()
    {
        var planFile = new Option<string?>("--plan") { Description = "The job's host plans (written by the server)" };
        var host = new Option<string?>("--host") { Description = "Which host to run (default: algo-<SLURM_PROCID + 1>)" };
        var standby = new Option<bool>("--standby") { Description = "Start now, warm, and wait on standard input for PLAN<TAB>HOST<TAB>OUTPUT (the local executor's spare hosts)" };
        var command = new Command("host", "Run one host of a job (used by executors; not for people)") { planFile, host, standby };
        command.Hidden = true;
        command.SetAction(async (result, _) =>
        {
            // A cluster executor starts hosts niced (SlurmOptions.TaskNiceness); the task's wrapper already
            // tried to nice its session too, which an unprivileged process may be refused when many start
            // at once: keep trying in the background.
            var niceSession = CpuPriority.OwnNiceness() is > 0 and var niceness
                ? CpuPriority.LowerSessionAsync(niceness, TimeSpan.FromSeconds(10), CancellationToken.None)
                : Task.FromResult(true);
            var planPath = result.GetValue(planFile);
            var hostName = result.GetValue(host);
            if (result.GetValue(standby))
            {
                // Warm what every host needs before the wait, then become the host the server names.
                GC.KeepAlive(JsonSerializer.Deserialize("[]", HostsJsonContext.Default.ListHostPlan));
                await StandbyHost.WarmUpAsync(sandbox: true).ConfigureAwait(false);
                if (StandbyHost.WaitForAssignment(Console.In) is not { } assignment)
                {
                    return 0;
                }

                (planPath, hostName) = assignment;
            }

            if (planPath is null)
            {
                throw new CliException("Give --plan FILE (or --standby).");
            }

            List<HostPlan> plans;
            try
            {
                plans = JsonSerializer.Deserialize(await File.ReadAllTextAsync(planPath, CancellationToken.None).ConfigureAwait(false), HostsJsonContext.Default.ListHostPlan)
                    ?? throw new CliException($"The plan {planPath} is empty.");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
            {
                throw new CliException($"Cannot read the plan {planPath}: {e.Message}");
            }

            var name = hostName
                ?? (int.TryParse(Environment.GetEnvironmentVariable("SLURM_PROCID"), out var procId) ? $"algo-{procId + 1}" : throw new CliException("Give --host, or run under srun (SLURM_PROCID)."));
            var plan = plans.SingleOrDefault(p => p.HostName == name) ?? throw new CliException($"The plan has no host {name}.");
            if (plan.FormatVersion > HostPlan.CurrentFormatVersion)
            {
                throw new CliException($"The plan is in format {plan.FormatVersion}, written by a newer Trainyard; this one reads format {HostPlan.CurrentFormatVersion} and older: run the same version on the nodes as on the server.");
            }
            var local = new LocalObjectStore(plan.ObjectStoreRoot ?? throw new CliException("The plan names no object store root."));
            IObjectStore store = plan.ObjectStore switch
            {
                "local" => local,
                "s3" => new RoutingObjectStore(Trainyard.S3.S3ObjectStore.FromEnvironment(), local),
                _ => throw new CliException($"Object store '{plan.ObjectStore}' is not available in this build."),
            };

            // Held while this process lives: a server that restarts tells a running host from a vanished one by it.
            using var alive = HostLock.Acquire(plan);
            using var events = new HostEventWriter(plan.EventsPath);
            events.OnNode(Environment.GetEnvironmentVariable("SLURMD_NODENAME") ?? Environment.MachineName);
            using var stop = new CancellationTokenSource();
            stop.Token.Register(events.OnStopping);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true; // keep running: stop the algorithm gracefully, then report
                stop.Cancel();
            });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
            {
                ctx.Cancel = true;
                stop.Cancel();
            });
            // The stop file and the plan's deadline are watched by the host itself, so that both hold while no
            // server is following it.
            var timedOut = false;
            var watcher = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    // A job directory that was deleted (the home removed under a running host) stops it too.
                    if (File.Exists(plan.StopPath) || !Directory.Exists(Path.GetDirectoryName(plan.StopPath)))
                    {
                        await stop.CancelAsync().ConfigureAwait(false);
                        break;
                    }

                    if (plan.Deadline is { } deadline && DateTimeOffset.UtcNow >= deadline)
                    {
                        timedOut = true;
                        await stop.CancelAsync().ConfigureAwait(false);
                        break;
                    }

                    await Task.Delay(200, CancellationToken.None).ConfigureAwait(false);
                }
            }, CancellationToken.None);

            var runtime = new HostRuntime(plan, store, events, NullLogger.Instance);
            HostResult outcome;
            try
            {
                outcome = await runtime.RunAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                outcome = new HostResult { HostName = plan.HostName, Error = $"InternalServerError: the host runtime of {plan.HostName} failed: {e.Message}" };
            }

            events.OnResult(timedOut && outcome.Stopped ? outcome with { TimedOut = true } : outcome);
            await stop.CancelAsync().ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
            await niceSession.ConfigureAwait(false);
            return 0;
        });
        return command;
    }
}
