namespace Trainyard.Logs;

/// <summary>What DescribeLogStreams tells of a stream (times in ms since the epoch; null for a stream without events).</summary>
public sealed record LogStreamInfo(string Name, long CreationTime, long? FirstEventTimestamp, long? LastEventTimestamp, long? LastIngestionTime);
