namespace Trainyard.Logs;

/// <summary>A line of a log stream: its position in the stream (0-based), its times in ms since the epoch, its text as UTF-8.</summary>
public readonly record struct LogEvent(long Index, long Timestamp, long IngestionTime, ReadOnlyMemory<byte> Message);
