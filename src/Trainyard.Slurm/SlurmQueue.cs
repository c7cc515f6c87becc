namespace Trainyard.Slurm;

/// <summary>
/// One view of Slurm's queue shared by every training job the executor follows: a single
/// <c>squeue --json</c> per interval instead of one per job (200 jobs polling on their own forked 400
/// processes a second on a 2-core machine and starved the API).
/// </summary>
internal sealed class SlurmQueue(TimeSpan interval)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<long, SlurmCommands.JobInfo>? _jobs;
    private DateTimeOffset _takenAt = DateTimeOffset.MinValue;

    /// <summary>
    /// The job's state from a snapshot taken after <paramref name="notBefore"/>. <c>Known</c> is false
    /// when no such snapshot could be taken (squeue failed); a null <c>Info</c> in a fresh snapshot means
    /// Slurm no longer knows the job.
    /// </summary>
    public async Task<(bool Known, SlurmCommands.JobInfo? Info)> GetAsync(long id, DateTimeOffset notBefore)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_jobs is null || DateTimeOffset.UtcNow - _takenAt >= interval || _takenAt < notBefore)
            {
                var taken = DateTimeOffset.UtcNow;
                var jobs = await SlurmCommands.QueryAllAsync(CancellationToken.None).ConfigureAwait(false);
                if (jobs is not null)
                {
                    _jobs = jobs;
                    _takenAt = taken;
                }
            }

            if (_jobs is null || _takenAt < notBefore)
            {
                return (false, null);
            }

            return (true, _jobs.GetValueOrDefault(id));
        }
        finally
        {
            _gate.Release();
        }
    }
}
