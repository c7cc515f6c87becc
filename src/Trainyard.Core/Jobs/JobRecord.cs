using System.Collections.Immutable;
using Trainyard.Model;

namespace Trainyard.Jobs;

/// <summary>
/// One training job: the definition as accepted (immutable) and its runtime state. Records are
/// immutable; <see cref="JobStore.Update"/> swaps one for the next under the job's lock.
/// </summary>
public sealed record JobRecord
{
    public required string Name { get; init; }
    public required string Arn { get; init; }
    public required long Sequence { get; init; }
    public required CreateTrainingJobRequest Definition { get; init; }

    /// <summary>The request as accepted, exactly as it will be shown in trainingjobconfig.json.</summary>
    public required string DefinitionJson { get; init; }

    /// <summary>The algorithm this job runs: TrainingImage, or the image of its AlgorithmName, resolved.</summary>
    public required string ImagePath { get; init; }

    public required string Status { get; init; }
    public required string SecondaryStatus { get; init; }
    public string? FailureReason { get; init; }
    public required DateTimeOffset CreationTime { get; init; }
    public required DateTimeOffset LastModifiedTime { get; init; }
    public DateTimeOffset? TrainingStartTime { get; init; }
    public DateTimeOffset? TrainingEndTime { get; init; }
    public ImmutableList<SecondaryStatusTransition> Transitions { get; init; } = [];
    public string? ModelArtifacts { get; init; }
    public ImmutableList<MetricData> FinalMetrics { get; init; } = [];
    public ImmutableList<Tag> Tags { get; init; } = [];

    /// <summary>Why the job is being stopped: <c>Stopped</c> (StopTrainingJob) or <c>MaxRuntimeExceeded</c>.</summary>
    public string? StopReason { get; init; }

    /// <summary>The executor that placed the hosts, and what finds them again (a Slurm job id).</summary>
    public string? ExecutorName { get; init; }

    public string? ExecutorState { get; init; }

    public bool IsTerminal => JobStatus.IsTerminal(Status);

    /// <summary>
    /// The next record after a status change: the previous secondary transition ends now and a new one
    /// starts (SecondaryStatusTransitions), unless the secondary status is unchanged.
    /// </summary>
    public JobRecord WithStatus(string status, string secondary, string message, DateTimeOffset now)
    {
        var transitions = Transitions;
        if (secondary != SecondaryStatus || transitions.IsEmpty)
        {
            if (!transitions.IsEmpty)
            {
                transitions = transitions.SetItem(transitions.Count - 1, transitions[^1] with { EndTime = now });
            }

            transitions = transitions.Add(new SecondaryStatusTransition { Status = secondary, StartTime = now, StatusMessage = message });
        }

        if (JobStatus.IsTerminal(status))
        {
            transitions = transitions.SetItem(transitions.Count - 1, transitions[^1] with { EndTime = now });
        }

        return this with { Status = status, SecondaryStatus = secondary, Transitions = transitions, LastModifiedTime = now };
    }
}
