namespace Trainyard.Logs;

/// <summary>One line's entry in a log index: where its bytes are and when it was written and stored (ms since the epoch).</summary>
public readonly record struct LogRecord(long Offset, int Length, long Timestamp, int IngestionDelay)
{
    public long IngestionTime => Timestamp + IngestionDelay;
}
