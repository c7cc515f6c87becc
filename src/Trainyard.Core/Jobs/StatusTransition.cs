using System.Text.Json.Serialization;
using Trainyard.Model;

namespace Trainyard.Jobs;

/// <summary>One entry of a job's SecondaryStatusTransitions: a secondary status, when it began and ended, its latest message.</summary>
public sealed record StatusTransition
{
    public required SecondaryStatus Status { get; init; }

    [JsonConverter(typeof(JsonTimestamp))]
    public required DateTimeOffset StartTime { get; init; }

    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? EndTime { get; init; }

    public required string StatusMessage { get; init; }
}
