using System.Text.Json.Serialization;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatch;

// CloudWatch's request shapes (service model 2010-08-01), as the query protocol's parameters read into JSON.

public sealed record Dimension
{
    public required string Name { get; init; }
    public required string Value { get; init; }
}

public sealed record DimensionFilter
{
    public required string Name { get; init; }
    public string? Value { get; init; }
}

public sealed record GetMetricStatisticsInput
{
    public required string Namespace { get; init; }
    public required string MetricName { get; init; }
    public List<Dimension>? Dimensions { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset StartTime { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset EndTime { get; init; }
    public int Period { get; init; }
    public List<string>? Statistics { get; init; }
    public List<string>? ExtendedStatistics { get; init; }
    public string? Unit { get; init; }
}

public sealed record ListMetricsInput
{
    public string? Namespace { get; init; }
    public string? MetricName { get; init; }
    public List<DimensionFilter>? Dimensions { get; init; }
    public string? NextToken { get; init; }
    public string? RecentlyActive { get; init; }
}
