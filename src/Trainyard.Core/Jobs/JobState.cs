using System.Text.Json.Serialization;
using Trainyard.Model;

namespace Trainyard.Jobs;

/// <summary>The runtime part of a <see cref="JobRecord"/> as it is stored (a JSON column).</summary>
public sealed record JobState
{
    public required string Arn { get; init; }
    public string? ImagePath { get; init; }
    public required string Status { get; init; }
    public required string SecondaryStatus { get; init; }
    public string? FailureReason { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset CreationTime { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset LastModifiedTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingStartTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingEndTime { get; init; }
    public List<SecondaryStatusTransition>? Transitions { get; init; }
    public string? ModelArtifacts { get; init; }
    public List<MetricData>? FinalMetrics { get; init; }
    public List<Tag>? Tags { get; init; }
    public string? StopReason { get; init; }
    public string? ExecutorName { get; init; }
    public string? ExecutorState { get; init; }

    public static JobState From(JobRecord r) => new()
    {
        Arn = r.Arn,
        ImagePath = r.ImagePath,
        Status = r.Status,
        SecondaryStatus = r.SecondaryStatus,
        FailureReason = r.FailureReason,
        CreationTime = r.CreationTime,
        LastModifiedTime = r.LastModifiedTime,
        TrainingStartTime = r.TrainingStartTime,
        TrainingEndTime = r.TrainingEndTime,
        Transitions = [.. r.Transitions],
        ModelArtifacts = r.ModelArtifacts,
        FinalMetrics = [.. r.FinalMetrics],
        Tags = [.. r.Tags],
        StopReason = r.StopReason,
        ExecutorName = r.ExecutorName,
        ExecutorState = r.ExecutorState,
    };
}
