namespace Trainyard.Slurm;

/// <summary>Site options of the Slurm executor, from <c>serve --slurm-*</c> flags.</summary>
public sealed record SlurmOptions
{
    /// <summary>The partition jobs are submitted to (sbatch --partition); the cluster's default when null.</summary>
    public string? Partition { get; init; }

    /// <summary>Extra sbatch flags, one per element (e.g. <c>--account=ml</c>).</summary>
    public IReadOnlyList<string> ExtraSbatchArguments { get; init; } = [];

    /// <summary>The trainyard executable the tasks run (<c>trainyard host</c>); it must be reachable on every node.</summary>
    public string? TrainyardExecutable { get; init; }

    /// <summary>
    /// How much lower than normal the job's own processes run on the nodes (0–19; 0 leaves them alone): the
    /// sessions Slurm starts for the batch step (its slurmstepd, the batch script, srun) and for each task
    /// (its slurmstepd, the host runtime) are niced through their autogroup, which is what the kernel weighs
    /// against other sessions, and the host runtime's own nice value too. The algorithm runs at normal
    /// priority in a session of its own. Beyond SageMaker: it keeps a control plane that shares a machine
    /// with the hosts (a one-machine test cluster, a head node that also computes) responsive.
    /// </summary>
    public int TaskNiceness { get; init; } = 10;

    /// <summary>How often the executor asks Slurm about its jobs.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long a host may take to notice the stop file before Slurm signals its tasks (SIGTERM) instead.</summary>
    public TimeSpan StopNudgeAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time Slurm gets, after the grace period, before the job is cancelled outright.</summary>
    public TimeSpan KillMargin { get; init; } = TimeSpan.FromSeconds(10);
}
