namespace Trainyard.Api.CloudWatchLogs;

// CloudWatch Logs' request shapes (service model Logs_20140328), members in camelCase on the wire.

public sealed record DescribeLogGroupsRequest
{
    public string? LogGroupNamePrefix { get; init; }
    public string? LogGroupNamePattern { get; init; }
    public string? NextToken { get; init; }
    public int? Limit { get; init; }
}

public sealed record DescribeLogStreamsRequest
{
    public string? LogGroupName { get; init; }
    public string? LogGroupIdentifier { get; init; }
    public string? LogStreamNamePrefix { get; init; }
    public string? OrderBy { get; init; }
    public bool? Descending { get; init; }
    public string? NextToken { get; init; }
    public int? Limit { get; init; }
}

public sealed record GetLogEventsRequest
{
    public string? LogGroupName { get; init; }
    public string? LogGroupIdentifier { get; init; }
    public required string LogStreamName { get; init; }
    public long? StartTime { get; init; }
    public long? EndTime { get; init; }
    public string? NextToken { get; init; }
    public int? Limit { get; init; }
    public bool? StartFromHead { get; init; }
}

public sealed record FilterLogEventsRequest
{
    public string? LogGroupName { get; init; }
    public string? LogGroupIdentifier { get; init; }
    public List<string>? LogStreamNames { get; init; }
    public string? LogStreamNamePrefix { get; init; }
    public long? StartTime { get; init; }
    public long? EndTime { get; init; }
    public string? FilterPattern { get; init; }
    public string? NextToken { get; init; }
    public int? Limit { get; init; }
    public bool? Interleaved { get; init; }
}

public sealed record LogGroupDescription
{
    public required string LogGroupName { get; init; }
    public long CreationTime { get; init; }
    public int MetricFilterCount { get; init; }
    public required string Arn { get; init; }
    public long StoredBytes { get; init; }
}

public sealed record DescribeLogGroupsResponse(List<LogGroupDescription> LogGroups, string? NextToken);

public sealed record LogStreamDescription
{
    public required string LogStreamName { get; init; }
    public long CreationTime { get; init; }
    public long? FirstEventTimestamp { get; init; }
    public long? LastEventTimestamp { get; init; }
    public long? LastIngestionTime { get; init; }
    public required string UploadSequenceToken { get; init; }
    public required string Arn { get; init; }
    public long StoredBytes { get; init; }
}

public sealed record DescribeLogStreamsResponse(List<LogStreamDescription> LogStreams, string? NextToken);
