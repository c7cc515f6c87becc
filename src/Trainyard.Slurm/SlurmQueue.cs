namespace Trainyard.Slurm;

/// <summary>
/// One view of Slurm's queue shared by every training job the executor follows: a single
/// <c>squeue</c> per interval for every watched job instead of one per job (200 jobs polling on their own forked 400
/// processes a second on a 2-core machine and starved the API).
/// </summary>
internal sealed class SlurmQueue(TimeSpan interval)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _watchedLock = new();
    private readonly HashSet<long> _watched = [];
    private HashSet<long> _queried = [];
    private Dictionary<long, SlurmCommands.JobInfo>? _jobs;
    private DateTimeOffset _takenAt = DateTimeOffset.MinValue;

    /// <summary>Stops asking about a job that has ended.</summary>
    public void Forget(long id)
    {
        // Never waits for a query in flight: a monitor that ends must not hold a pool thread.
        lock (_watchedLock)
        {
            _watched.Remove(id);
        }
    }

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
            long[] watched;
            lock (_watchedLock)
            {
                _watched.Add(id);
                watched = [.. _watched];
            }

            // A snapshot answers for a job only if the job was among the ids it asked about.
            if (_jobs is null || DateTimeOffset.UtcNow - _takenAt >= interval || _takenAt < notBefore || !_queried.Contains(id))
            {
                var taken = DateTimeOffset.UtcNow;
                var jobs = await SlurmCommands.QueryAsync(watched, CancellationToken.None).ConfigureAwait(false);
                if (jobs is not null)
                {
                    _jobs = jobs;
                    _queried = [.. watched];
                    _takenAt = taken;
                }
            }

            if (!_queried.Contains(id))
            {
                return (false, null);
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
