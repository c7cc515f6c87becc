using Microsoft.Win32.SafeHandles;

namespace Trainyard.Logs;

/// <summary>
/// Reads a log stream written by <see cref="LogStreamWriter"/>: a snapshot of its index taken when opened
/// (<see cref="Count"/> lines), random access by line position, and binary search by time. A line's
/// position (0-based) is a stable offset: a consumer that persists the next position it wants resumes
/// exactly there after a restart, seeing every line once. Open one per request; it holds two file handles.
/// </summary>
public sealed class LogStreamReader : IDisposable
{
    private readonly SafeFileHandle? _log;
    private readonly SafeFileHandle _index;

    private LogStreamReader(string logPath, SafeFileHandle? log, SafeFileHandle index, long count)
    {
        LogPath = logPath;
        _log = log;
        _index = index;
        Count = count;
    }

    public string LogPath { get; }

    /// <summary>Lines in the stream when it was opened.</summary>
    public long Count { get; }

    /// <summary>Opens the stream of <paramref name="logPath"/>; null when it has no index (yet).</summary>
    /// <exception cref="InvalidDataException">The index is of another format or version.</exception>
    public static LogStreamReader? Open(string logPath)
    {
        SafeFileHandle index;
        try
        {
            index = File.OpenHandle(LogIndex.PathOf(logPath), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        try
        {
            var length = RandomAccess.GetLength(index);
            if (length < LogIndex.HeaderSize)
            {
                // The writer is creating it: an empty stream.
                return new LogStreamReader(logPath, null, index, 0);
            }

            Span<byte> header = stackalloc byte[LogIndex.HeaderSize];
            RandomAccess.Read(index, header, 0);
            if (!LogIndex.TryReadHeader(header, out var problem))
            {
                throw new InvalidDataException($"{LogIndex.PathOf(logPath)}: {problem}.");
            }

            var log = File.OpenHandle(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return new LogStreamReader(logPath, log, index, (length - LogIndex.HeaderSize) / LogIndex.RecordSize);
        }
        catch
        {
            index.Dispose();
            throw;
        }
    }

    /// <summary>The record of line <paramref name="position"/> (0 ≤ position &lt; <see cref="Count"/>).</summary>
    public LogRecord Record(long position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position, Count);
        Span<byte> record = stackalloc byte[LogIndex.RecordSize];
        RandomAccess.Read(_index, record, LogIndex.HeaderSize + (position * LogIndex.RecordSize));
        return LogIndex.ReadRecord(record);
    }

    /// <summary>The first position whose timestamp is at or after <paramref name="timestamp"/> (<see cref="Count"/> if none).</summary>
    public long LowerBound(long timestamp)
    {
        long lo = 0, hi = Count;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            if (Record(mid).Timestamp < timestamp)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>
    /// Reads lines <paramref name="from"/> … <paramref name="to"/> (exclusive), stopping early once
    /// <paramref name="maxBytes"/> of message bytes are gathered (at least one line is always read).
    /// </summary>
    public IReadOnlyList<LogEvent> Read(long from, long to, long maxBytes = long.MaxValue)
    {
        from = Math.Clamp(from, 0, Count);
        to = Math.Clamp(to, from, Count);
        var count = (int)Math.Min(to - from, int.MaxValue / LogIndex.RecordSize);
        if (count == 0)
        {
            return [];
        }

        var records = new byte[count * LogIndex.RecordSize];
        RandomAccess.Read(_index, records, LogIndex.HeaderSize + (from * LogIndex.RecordSize));
        var first = LogIndex.ReadRecord(records);
        var taken = 0;
        long bytes = 0;
        var end = first.Offset;
        for (; taken < count; taken++)
        {
            var r = LogIndex.ReadRecord(records.AsSpan(taken * LogIndex.RecordSize));
            if (taken > 0 && bytes + r.Length > maxBytes)
            {
                break;
            }

            bytes += r.Length;
            end = Math.Max(end, r.Offset + r.Length);
        }

        // The lines of a page are contiguous in the text log: one read fetches all of them.
        var text = new byte[end - first.Offset];
        var read = RandomAccess.Read(_log!, text, first.Offset);
        var events = new LogEvent[taken];
        for (var i = 0; i < taken; i++)
        {
            var r = LogIndex.ReadRecord(records.AsSpan(i * LogIndex.RecordSize));
            var start = (int)(r.Offset - first.Offset);
            var length = Math.Clamp(read - start, 0, r.Length);
            events[i] = new LogEvent(from + i, r.Timestamp, r.IngestionTime, text.AsMemory(Math.Min(start, read), length));
        }

        return events;
    }

    public void Dispose()
    {
        _index.Dispose();
        _log?.Dispose();
    }
}
