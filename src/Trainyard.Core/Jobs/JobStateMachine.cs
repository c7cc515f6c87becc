using System.Collections.Frozen;
using System.Collections.Immutable;

namespace Trainyard.Jobs;

/// <summary>
/// SageMaker's training-job lifecycle as data: which event moves a job from which secondary status to
/// which (status, secondary status), with SageMaker's StatusMessages. <see cref="JobStore.Apply"/> applies
/// it under the job's lock (compare-and-set); nothing else changes a job's status. An event the table has
/// no row for — a repeat, a late or replayed event, one after the end — is refused and changes nothing.
/// Interrupted, Restarting and MaxWaitTimeExceeded are reserved for retries (RetryStrategy) and managed
/// spot training: no event leads there yet.
/// </summary>
public static class JobStateMachine
{
    public const string StartingMessage = "Preparing the instances for training";
    public const string DownloadingMessage = "Downloading input data";
    public const string TrainingMessage = "Training image download completed. Training in progress.";
    public const string DownloadingImageMessage = "Downloading the training image";
    public const string UploadingMessage = "Uploading generated training model";
    public const string CompletedMessage = "Training job completed";
    public const string StoppingMessage = "Stopping the training job";
    public const string StoppedMessage = "Training job stopped";
    public const string MaxRuntimeExceededMessage = "Training job runtime exceeded MaxRuntimeInSeconds provided";

    /// <summary>The longest FailureReason SageMaker returns (the service model's constraint).</summary>
    public const int MaxFailureReasonLength = 1024;

    private static readonly SecondaryStatus[] Running = [SecondaryStatus.Starting, SecondaryStatus.Downloading, SecondaryStatus.Training, SecondaryStatus.Uploading];

    /// <summary>Every legal transition. A Fail row's message is the event's FailureReason.</summary>
    public static ImmutableArray<JobTransition> Table { get; } =
    [
        new(SecondaryStatus.Starting, JobEventKind.Download, TrainingJobStatus.InProgress, SecondaryStatus.Downloading, DownloadingMessage),
        new(SecondaryStatus.Downloading, JobEventKind.Train, TrainingJobStatus.InProgress, SecondaryStatus.Training, TrainingMessage),
        new(SecondaryStatus.Training, JobEventKind.Upload, TrainingJobStatus.InProgress, SecondaryStatus.Uploading, UploadingMessage),
        new(SecondaryStatus.Uploading, JobEventKind.Complete, TrainingJobStatus.Completed, SecondaryStatus.Completed, CompletedMessage),
        .. Running.Select(s => new JobTransition(s, JobEventKind.Stop, TrainingJobStatus.Stopping, SecondaryStatus.Stopping, StoppingMessage)),
        .. Running.Select(s => new JobTransition(s, JobEventKind.TimeOut, TrainingJobStatus.Stopping, SecondaryStatus.Stopping, StoppingMessage)),
        new(SecondaryStatus.Stopping, JobEventKind.Halt, TrainingJobStatus.Stopped, SecondaryStatus.Stopped, StoppedMessage, IfStopReason: SecondaryStatus.Stopped),
        new(SecondaryStatus.Stopping, JobEventKind.Halt, TrainingJobStatus.Stopped, SecondaryStatus.MaxRuntimeExceeded, MaxRuntimeExceededMessage, IfStopReason: SecondaryStatus.MaxRuntimeExceeded),
        .. Running.Append(SecondaryStatus.Stopping).Select(s => new JobTransition(s, JobEventKind.Fail, TrainingJobStatus.Failed, SecondaryStatus.Failed, "")),
    ];

    private static readonly FrozenDictionary<(SecondaryStatus, JobEventKind), JobTransition[]> Rows =
        Table.GroupBy(t => (t.From, t.On)).ToFrozenDictionary(g => g.Key, g => g.ToArray());

    /// <summary>The TrainingJobStatus that goes with each secondary status a job can be in.</summary>
    public static TrainingJobStatus StatusOf(SecondaryStatus secondary) => secondary switch
    {
        SecondaryStatus.Stopping => TrainingJobStatus.Stopping,
        SecondaryStatus.Completed => TrainingJobStatus.Completed,
        SecondaryStatus.Failed => TrainingJobStatus.Failed,
        SecondaryStatus.Stopped or SecondaryStatus.MaxRuntimeExceeded or SecondaryStatus.MaxWaitTimeExceeded => TrainingJobStatus.Stopped,
        _ => TrainingJobStatus.InProgress,
    };

    public static bool IsTerminal(TrainingJobStatus status) => status is TrainingJobStatus.Completed or TrainingJobStatus.Failed or TrainingJobStatus.Stopped;

    /// <summary>The record of a job just accepted: InProgress, Starting.</summary>
    public static JobRecord Start(JobRecord job, DateTimeOffset now, string message = StartingMessage) => job with
    {
        Status = TrainingJobStatus.InProgress,
        SecondaryStatus = SecondaryStatus.Starting,
        Transitions = [new StatusTransition { Status = SecondaryStatus.Starting, StartTime = now, StatusMessage = message }],
        LastModifiedTime = now,
    };

    /// <summary>
    /// The record after <paramref name="e"/>, or false with <paramref name="refusal"/> saying why the
    /// event does not apply (the record is then unchanged).
    /// </summary>
    public static bool TryApply(JobRecord job, JobEvent e, DateTimeOffset now, out JobRecord next, out string? refusal)
    {
        next = job;
        refusal = null;
        if (e.Kind == JobEventKind.Note)
        {
            var current = job.Transitions.IsEmpty ? null : job.Transitions[^1].StatusMessage;
            if (job.IsTerminal || e.Message is null || e.Message == current)
            {
                refusal = job.IsTerminal ? $"the job has ended ({job.SecondaryStatus})" : "the status message is unchanged";
                return false;
            }

            next = job with
            {
                Transitions = job.Transitions.SetItem(job.Transitions.Count - 1, job.Transitions[^1] with { StatusMessage = e.Message }),
                LastModifiedTime = now,
            };
            return true;
        }

        var row = Rows.TryGetValue((job.SecondaryStatus, e.Kind), out var rows)
            ? rows.FirstOrDefault(r => r.IfStopReason is null || r.IfStopReason == job.StopReason)
            : null;
        if (row is null)
        {
            refusal = job.IsTerminal ? $"the job has ended ({job.SecondaryStatus})" : $"no transition on {e.Kind} from {job.SecondaryStatus}";
            return false;
        }

        var message = e.Kind == JobEventKind.Fail ? Truncate(e.Message ?? "InternalServerError") : e.Message ?? row.Message;
        var transitions = job.Transitions;
        if (!transitions.IsEmpty)
        {
            transitions = transitions.SetItem(transitions.Count - 1, transitions[^1] with { EndTime = now });
        }

        var terminal = IsTerminal(row.Status);
        transitions = transitions.Add(new StatusTransition
        {
            Status = row.To,
            StartTime = now,
            EndTime = terminal ? now : null,
            StatusMessage = message,
        });
        next = job with
        {
            Status = row.Status,
            SecondaryStatus = row.To,
            Transitions = transitions,
            LastModifiedTime = now,
            FailureReason = e.Kind == JobEventKind.Fail ? message : job.FailureReason,
            StopReason = e.Kind switch
            {
                JobEventKind.Stop => SecondaryStatus.Stopped,
                JobEventKind.TimeOut => SecondaryStatus.MaxRuntimeExceeded,
                _ => job.StopReason,
            },
            TrainingStartTime = job.TrainingStartTime ?? (row.To == SecondaryStatus.Downloading || terminal ? now : null),
            TrainingEndTime = terminal ? now : job.TrainingEndTime,
        };
        return true;
    }

    private static string Truncate(string reason) =>
        reason.Length <= MaxFailureReasonLength ? reason : reason[..(MaxFailureReasonLength - 3)] + "...";
}
