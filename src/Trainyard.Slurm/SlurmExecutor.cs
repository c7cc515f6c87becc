using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Trainyard.Executors;
using Trainyard.Hosts;

namespace Trainyard.Slurm;

/// <summary>
/// Places a job's hosts on a Slurm cluster: one Slurm job per training job, <c>--nodes=InstanceCount</c>,
/// one task per node, each task running <c>trainyard host</c> — the same host runtime the local
/// executor runs — with node i as <c>algo-(i+1)</c>. The job directory must be on a file system every
/// node shares (as a cluster's home or scratch is): plans, logs, events and artifacts travel through it.
/// </summary>
public sealed partial class SlurmExecutor(SlurmOptions options, ILogger<SlurmExecutor> logger) : IReattachingExecutor
{
    private readonly SlurmQueue _queue = new(options.PollInterval);

    public string Name => "slurm";

    public IReadOnlyList<Task<HostResult>> Start(IReadOnlyList<HostPlan> hosts, IHostEvents events, CancellationToken stop)
    {
        var monitor = new SlurmJobMonitor(options, _queue, hosts, events, logger);
        _ = monitor.RunAsync(null, stop);
        return monitor.Results;
    }

    public IReadOnlyList<Task<HostResult>> Attach(IReadOnlyList<HostPlan> hosts, string state, IHostEvents events, CancellationToken stop)
    {
        var monitor = new SlurmJobMonitor(options, _queue, hosts, events, logger);
        _ = monitor.RunAsync(long.Parse(state, CultureInfo.InvariantCulture), stop);
        return monitor.Results;
    }

    /// <summary>The Slurm job name of a training job.</summary>
    public static string JobName(string trainingJob) => "trainyard-" + trainingJob;

    /// <summary>The trainyard executable for the tasks: the configured one, or the one running this server.</summary>
    public static string FindTrainyard(SlurmOptions options) =>
        HostPlanFile.FindTrainyard(options.TrainyardExecutable)
        ?? throw new InvalidOperationException("Cannot find the trainyard executable for Slurm tasks; set --slurm-trainyard PATH.");

    internal static string WriteJobFiles(SlurmOptions options, IReadOnlyList<HostPlan> hosts)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(options.TaskNiceness);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.TaskNiceness, 19);
        var plan = HostPlanFile.Write(hosts);
        var jobDirectory = Path.GetDirectoryName(plan)!;
        var script = Path.Combine(jobDirectory, "slurm-job.sh");
        var exe = FindTrainyard(options);
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        sb.Append("# Written by Trainyard: one task per node, each running one host of the training job.\n");
        var task = $"{Quote(exe)} host --plan {Quote(plan)}";
        if (options.TaskNiceness is > 0 and var nice)
        {
            // The job's own processes run niced (SlurmOptions.TaskNiceness), so that on a node shared with
            // the control plane (or a test cluster on one machine) the server stays responsive. Slurm starts
            // the batch script and every task in a session of its own, and with autogroups the kernel shares
            // the CPU between sessions first: a nice value alone would only rank a process within its step.
            // So each step's session is niced too (refused writes are harmless; the host runtime retries).
            // The host runtime starts the algorithm at normal priority, in a session of its own.
            var n = nice.ToString(CultureInfo.InvariantCulture);
            sb.Append(CultureInfo.InvariantCulture, $"echo {n} > /proc/self/autogroup 2>/dev/null\n");
            task = $"nice -n {n} /bin/sh -c 'echo {n} > /proc/self/autogroup 2>/dev/null; exec \"$0\" \"$@\"' {task}";
        }

        sb.Append(CultureInfo.InvariantCulture, $"exec srun --kill-on-bad-exit=1 --ntasks={hosts.Count} --ntasks-per-node=1 {task}\n");
        File.WriteAllText(script, sb.ToString());
        File.SetUnixFileMode(script, (UnixFileMode)0b111_101_101);
        return script;
    }

    /// <summary>One word for bash, in single quotes.</summary>
    private static string Quote(string word) => "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [LoggerMessage(EventId = 700, Level = LogLevel.Information, Message = "Job {Job}: Slurm job {SlurmJob} submitted for {Hosts} hosts")]
    internal static partial void LogSubmitted(ILogger logger, string job, long slurmJob, int hosts);

    [LoggerMessage(EventId = 701, Level = LogLevel.Warning, Message = "Job {Job}: asking Slurm about job {SlurmJob} failed")]
    internal static partial void LogQueryFailed(ILogger logger, Exception exception, string job, long slurmJob);
}
