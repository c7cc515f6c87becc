using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Trainyard.Slurm;

/// <summary>
/// Slurm through its own command-line tools: <c>sbatch --parsable</c>, <c>squeue --json</c> and
/// <c>scancel</c>. Chosen over slurmrestd because the commands need no daemon beyond slurmctld, no JWT
/// set-up and no non-root service user, work with every Slurm since 21.08, and are what a site's users
/// already have; squeue's JSON (openapi v0.0.38 on Debian's 22.05) is as structured as the REST answer.
/// </summary>
public static class SlurmCommands
{
    /// <summary>A Slurm job's state as squeue reports it.</summary>
    public sealed record JobInfo(long Id, string Name, string State, string Reason, string Nodes, DateTimeOffset? StartTime);

    public static async Task<long> SubmitAsync(string script, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var (code, stdout, stderr) = await RunAsync("sbatch", ["--parsable", .. arguments, script], cancellationToken).ConfigureAwait(false);
        if (code != 0 || !long.TryParse(stdout.Trim().Split(';')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var id))
        {
            throw new InvalidOperationException($"sbatch failed (exit {code}): {stderr.Trim()} {stdout.Trim()}");
        }

        return id;
    }

    /// <summary>The job's state, or null when Slurm no longer knows it.</summary>
    public static async Task<JobInfo?> QueryAsync(long id, CancellationToken cancellationToken) =>
        (await QueryAllAsync(cancellationToken).ConfigureAwait(false))?.GetValueOrDefault(id);

    /// <summary>Every job slurmctld knows (running, pending, and finished within MinJobAge), or null when squeue fails.</summary>
    public static async Task<Dictionary<long, JobInfo>?> QueryAllAsync(CancellationToken cancellationToken)
    {
        // squeue --json ignores --jobs and answers every job it knows: one call serves every training job.
        var (code, stdout, _) = await RunAsync("squeue", ["--json", "--states=all"], cancellationToken).ConfigureAwait(false);
        if (code != 0)
        {
            return null;
        }

        var jobs = new Dictionary<long, JobInfo>();
        using var doc = JsonDocument.Parse(stdout);
        foreach (var job in doc.RootElement.GetProperty("jobs").EnumerateArray())
        {
            var id = job.GetProperty("job_id").GetInt64();
            var stateElement = job.GetProperty("job_state");
            var state = stateElement.ValueKind == JsonValueKind.Array ? stateElement[0].GetString()! : stateElement.GetString()!;
            var reason = job.TryGetProperty("state_reason", out var r) ? r.GetString() ?? "" : "";
            var nodes = job.TryGetProperty("nodes", out var n) ? n.GetString() ?? "" : "";
            var name = job.TryGetProperty("name", out var jn) ? jn.GetString() ?? "" : "";
            DateTimeOffset? start = job.TryGetProperty("start_time", out var s) && s.ValueKind == JsonValueKind.Number && s.GetInt64() > 0
                ? DateTimeOffset.FromUnixTimeSeconds(s.GetInt64())
                : null;
            jobs[id] = new JobInfo(id, name, state, reason, nodes, start);
        }

        return jobs;
    }

    /// <summary>Sends <paramref name="signal"/> to the job's steps (every srun task on every node), not to the batch script.</summary>
    public static Task SignalStepsAsync(long id, string signal, CancellationToken cancellationToken) =>
        RunAsync("scancel", [$"--signal={signal}", id.ToString(CultureInfo.InvariantCulture)], cancellationToken);

    /// <summary>SIGKILL to every task of the job's first step at once (scancel --signal=KILL on the job would be a plain cancel).</summary>
    public static Task KillStepAsync(long id, CancellationToken cancellationToken) =>
        RunAsync("scancel", ["--signal=KILL", id.ToString(CultureInfo.InvariantCulture) + ".0"], cancellationToken);

    /// <summary>Cancels the job outright (SIGTERM, then SIGKILL after KillWait).</summary>
    public static Task CancelAsync(long id, CancellationToken cancellationToken) =>
        RunAsync("scancel", [id.ToString(CultureInfo.InvariantCulture)], cancellationToken);

    public static bool IsFinished(string state) => state is "COMPLETED" or "FAILED" or "CANCELLED" or "TIMEOUT" or "NODE_FAIL"
        or "PREEMPTED" or "BOOT_FAIL" or "DEADLINE" or "OUT_OF_MEMORY";

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string command, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {command}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }
}
