using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Jobs;

/// <summary>
/// One training job: the definition as accepted (immutable) and its runtime state. Records are
/// immutable; <see cref="JobStore"/> swaps one for the next under the job's lock, and only
/// <see cref="JobStore.Apply"/> (the <see cref="JobStateMachine"/>) changes the status.
/// </summary>
public sealed record JobRecord : IStoredRecord
{
    /// <summary>The name, sequence and definition are stored in columns of their own, not in the state.</summary>
    internal static readonly string[] NotInState = [nameof(Name), nameof(Sequence), nameof(Definition), nameof(DefinitionJson)];

    public required string Name { get; init; }
    public required long Sequence { get; init; }
    public required CreateTrainingJobRequest Definition { get; init; }

    /// <summary>The request as accepted, exactly as it will be shown in trainingjobconfig.json.</summary>
    public required string DefinitionJson { get; init; }

    public required string Arn { get; init; }

    /// <summary>The algorithm this job runs: TrainingImage, or the image of its AlgorithmName, resolved.</summary>
    public required string ImagePath { get; init; }

    public required TrainingJobStatus Status { get; init; }
    public required SecondaryStatus SecondaryStatus { get; init; }
    public string? FailureReason { get; init; }

    [JsonConverter(typeof(JsonTimestamp))]
    public required DateTimeOffset CreationTime { get; init; }

    [JsonConverter(typeof(JsonTimestamp))]
    public required DateTimeOffset LastModifiedTime { get; init; }

    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingStartTime { get; init; }

    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingEndTime { get; init; }

    public ImmutableList<StatusTransition> Transitions { get; init; } = [];
    public string? ModelArtifacts { get; init; }
    public ImmutableList<MetricData> FinalMetrics { get; init; } = [];
    public ImmutableList<Tag> Tags { get; init; } = [];

    /// <summary>Why the job is stopping: <c>Stopped</c> (StopTrainingJob) or <c>MaxRuntimeExceeded</c>.</summary>
    public SecondaryStatus? StopReason { get; init; }

    /// <summary>The access key id whose signature created the job (when the server checks signatures); all jobs are one account's, as in SageMaker.</summary>
    public string? CreatedBy { get; init; }

    /// <summary>The executor that placed the hosts, and what finds them again (a Slurm job id).</summary>
    public string? ExecutorName { get; init; }

    public string? ExecutorState { get; init; }

    [JsonIgnore]
    public bool IsTerminal => JobStateMachine.IsTerminal(Status);

    /// <summary>The StatusMessage of the current secondary status.</summary>
    [JsonIgnore]
    public string StatusMessage => Transitions.IsEmpty ? "" : Transitions[^1].StatusMessage;
}
