using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.Persistence;

namespace Trainyard.Jobs;

/// <summary>
/// The training jobs of a home. A job's status changes only through <see cref="Apply"/>, which consults
/// <see cref="JobStateMachine"/> under the job's lock; <see cref="Update"/> changes everything else.
/// </summary>
public sealed partial class JobStore(TrainyardDatabase db, ILogger? logger = null) : RecordStore<JobRecord>(db, "training_jobs", new JobRecordCodec())
{
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>
    /// Applies <paramref name="e"/> to the job if its current status allows it (compare-and-set), with
    /// <paramref name="also"/> setting other members of the new record (artifacts, metrics). Returns the
    /// stored record, or null when the event was refused (logged, nothing changed) or there is no such job.
    /// With <paramref name="when"/>, the event applies only to a job in that state (checked under its lock).
    /// </summary>
    public JobRecord? Apply(string name, JobEvent e, Func<JobRecord, JobRecord>? also = null, Func<JobRecord, bool>? when = null) => Change(name, current =>
    {
        if (when is not null && !when(current))
        {
            return null;
        }

        if (!JobStateMachine.TryApply(current, e, DateTimeOffset.UtcNow, out var next, out var refusal))
        {
            LogRefused(_logger, current.Name, e.ToString(), current.SecondaryStatus, refusal!);
            return null;
        }

        return also is null ? next : Same(next, also(next));
    });

    /// <summary>
    /// Changes members other than the status (tags, the executor's state). <paramref name="change"/> returns
    /// null to leave the job as it is; a change of status here is a bug and throws.
    /// </summary>
    public JobRecord? Update(string name, Func<JobRecord, JobRecord?> change) => Change(name, current => change(current) is { } next ? Same(current, next) : null);

    private static JobRecord Same(JobRecord before, JobRecord after) =>
        after.Status == before.Status && after.SecondaryStatus == before.SecondaryStatus && after.Transitions == before.Transitions && after.StopReason == before.StopReason
            ? after
            : throw new InvalidOperationException($"Job {before.Name}: its status changes only through JobStore.Apply (the state machine).");

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Job {Job}: {Event} ignored in {Status}: {Why}")]
    private static partial void LogRefused(ILogger logger, string job, string @event, SecondaryStatus status, string why);
}
