using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trainyard.Logs;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatchLogs;

public sealed partial class CloudWatchLogsApi
{
    /// <summary>
    /// GetLogEvents as CloudWatch pages it: from the head (<c>startFromHead</c>) or the tail, within
    /// [<c>startTime</c>, <c>endTime</c>), at most <c>limit</c> events or 1 MB. <c>nextForwardToken</c> is
    /// always there and comes back unchanged at the end of the stream (clients stop on it).
    /// </summary>
    private async Task GetLogEventsAsync(GetLogEventsRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        CheckGroup(request.LogGroupName, request.LogGroupIdentifier);
        var stream = request.LogStreamName;
        using var reader = (_group.LogPathOf(stream) is { } path ? LogStreamReader.Open(path) : null)
            ?? throw new ApiException("ResourceNotFoundException", 400, "The specified log stream does not exist.");
        var count = reader.Count;
        var lo = request.StartTime is { } start ? reader.LowerBound(start) : 0;
        var hi = request.EndTime is { } end ? reader.LowerBound(end) : count;
        hi = Math.Max(lo, hi);
        var limit = request.Limit ?? MaxEvents;

        IReadOnlyList<LogEvent> events;
        long from;
        if (request.NextToken is { } token)
        {
            var (forward, position) = LogTokens.ReadEventsToken(token, stream, count);
            if (forward)
            {
                from = Math.Clamp(position, lo, hi);
                events = reader.Read(from, Math.Min(hi, from + limit), MaxPageBytes);
            }
            else
            {
                (from, events) = ReadBackward(reader, lo, Math.Clamp(position, lo, hi), limit);
            }
        }
        else if (request.StartFromHead == true)
        {
            from = lo;
            events = reader.Read(from, Math.Min(hi, from + limit), MaxPageBytes);
        }
        else
        {
            (from, events) = ReadBackward(reader, lo, hi, limit);
        }

        var after = from + events.Count;
        response.StatusCode = 200;
        response.ContentType = AwsJsonProtocol.ContentType;
        await using var writer = new Utf8JsonWriter(response.BodyWriter, WriterOptions);
        writer.WriteStartObject();
        writer.WriteStartArray("events");
        foreach (var e in events)
        {
            writer.WriteStartObject();
            writer.WriteNumber("timestamp", e.Timestamp);
            writer.WriteString("message", Message(e));
            writer.WriteNumber("ingestionTime", e.IngestionTime);
            writer.WriteEndObject();
            if (writer.BytesPending > 64 * 1024)
            {
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        writer.WriteEndArray();
        writer.WriteString("nextForwardToken", LogTokens.Forward(stream, after));
        writer.WriteString("nextBackwardToken", LogTokens.Backward(stream, from));
        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The last events before <paramref name="to"/> (and from <paramref name="lo"/> on) that fit a page.</summary>
    private static (long From, IReadOnlyList<LogEvent> Events) ReadBackward(LogStreamReader reader, long lo, long to, int limit)
    {
        var from = Math.Max(lo, to - limit);
        var events = reader.Read(from, to);
        long bytes = 0;
        var keep = 0;
        for (var i = events.Count - 1; i >= 0; i--)
        {
            bytes += events[i].Message.Length;
            if (keep > 0 && bytes > MaxPageBytes)
            {
                break;
            }

            keep++;
        }

        return keep == events.Count ? (from, events) : (to - keep, events.Skip(events.Count - keep).ToList());
    }

    /// <summary>
    /// FilterLogEvents over the named streams or those with the prefix: events in time order across
    /// streams (ties by stream name, then position), each with a stable <c>eventId</c>; a
    /// <c>nextToken</c> only when more events matched than the page held, so <c>aws logs tail --follow</c>
    /// sleeps between polls instead of spinning.
    /// </summary>
    private async Task FilterLogEventsAsync(FilterLogEventsRequest request, HttpResponse response, CancellationToken cancellationToken)
    {
        CheckGroup(request.LogGroupName, request.LogGroupIdentifier);
        if (request.LogStreamNames is not null && request.LogStreamNamePrefix is not null)
        {
            throw new ApiException("InvalidParameterException", 400, "logStreamNames and logStreamNamePrefix are mutually exclusive.");
        }

        var pattern = FilterPattern.Parse(request.FilterPattern);
        List<string> names;
        if (request.LogStreamNames is { } listed)
        {
            names = [.. listed.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
            if (names.FirstOrDefault(n => !_group.Exists(n)) is { } missing)
            {
                throw new ApiException("ResourceNotFoundException", 400, $"The specified log stream does not exist: {missing}.");
            }
        }
        else
        {
            names = _group.StreamNames(request.LogStreamNamePrefix);
        }

        var resume = request.NextToken is { } token ? LogTokens.ReadFilterToken(token) : default((long, string, long)?);
        var limit = request.Limit ?? MaxEvents;
        var cursors = new List<FilterCursor>();
        try
        {
            foreach (var name in names)
            {
                if (_group.LogPathOf(name) is not { } path || LogStreamReader.Open(path) is not { } reader)
                {
                    continue;
                }

                var cursor = new FilterCursor(name, reader, request.EndTime is { } end ? reader.LowerBound(end) : reader.Count);
                var from = request.StartTime is { } start ? reader.LowerBound(start) : 0;
                if (resume is var (ts, stream, position))
                {
                    var c = string.CompareOrdinal(name, stream);
                    from = Math.Max(from, c < 0 ? reader.LowerBound(ts + 1) : c == 0 ? Math.Max(reader.LowerBound(ts), position) : reader.LowerBound(ts));
                }

                cursor.Start(from);
                cursors.Add(cursor);
            }

            var queue = new PriorityQueue<FilterCursor, (long, string)>(Comparer<(long Ts, string Name)>.Create((a, b) =>
                a.Ts != b.Ts ? a.Ts.CompareTo(b.Ts) : string.CompareOrdinal(a.Name, b.Name)));
            foreach (var cursor in cursors)
            {
                if (cursor.Current is { } e)
                {
                    queue.Enqueue(cursor, (e.Timestamp, cursor.Name));
                }
            }

            response.StatusCode = 200;
            response.ContentType = AwsJsonProtocol.ContentType;
            await using var writer = new Utf8JsonWriter(response.BodyWriter, WriterOptions);
            writer.WriteStartObject();
            writer.WriteStartArray("events");
            var returned = 0;
            long bytes = 0;
            string? next = null;
            while (queue.TryDequeue(out var cursor, out _))
            {
                var e = cursor.Current!.Value;
                if (pattern.Matches(e.Message.Span))
                {
                    if (returned == limit || (returned > 0 && bytes + e.Message.Length > MaxPageBytes))
                    {
                        next = LogTokens.Filter(e.Timestamp, cursor.Name, e.Index);
                        break;
                    }

                    writer.WriteStartObject();
                    writer.WriteString("logStreamName", cursor.Name);
                    writer.WriteNumber("timestamp", e.Timestamp);
                    writer.WriteString("message", Message(e));
                    writer.WriteNumber("ingestionTime", e.IngestionTime);
                    writer.WriteString("eventId", LogTokens.EventId(e.Timestamp, cursor.Hash, e.Index));
                    writer.WriteEndObject();
                    returned++;
                    bytes += e.Message.Length;
                    if (writer.BytesPending > 64 * 1024)
                    {
                        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                }

                cursor.MoveNext();
                if (cursor.Current is { } n)
                {
                    queue.Enqueue(cursor, (n.Timestamp, cursor.Name));
                }
            }

            writer.WriteEndArray();
            writer.WriteStartArray("searchedLogStreams");
            foreach (var cursor in cursors)
            {
                writer.WriteStartObject();
                writer.WriteString("logStreamName", cursor.Name);
                writer.WriteBoolean("searchedCompletely", next is null);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            if (next is not null)
            {
                writer.WriteString("nextToken", next);
            }

            writer.WriteEndObject();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var cursor in cursors)
            {
                cursor.Reader.Dispose();
            }
        }
    }

    /// <summary>A message as CloudWatch stores it: at most 256 KB.</summary>
    private static ReadOnlySpan<byte> Message(LogEvent e)
    {
        var span = e.Message.Span;
        if (span.Length <= MaxMessageBytes)
        {
            return span;
        }

        // Cut at a UTF-8 character boundary.
        var cut = MaxMessageBytes;
        while (cut > 0 && (span[cut] & 0xC0) == 0x80)
        {
            cut--;
        }

        return span[..cut];
    }

    /// <summary>One stream's position in a FilterLogEvents merge; reads its events a chunk at a time.</summary>
    private sealed class FilterCursor(string name, LogStreamReader reader, long end)
    {
        private IReadOnlyList<LogEvent> _chunk = [];
        private int _index;
        private long _nextRead;

        public string Name { get; } = name;

        public uint Hash { get; } = LogTokens.StreamHash(name);

        public LogStreamReader Reader { get; } = reader;

        public LogEvent? Current
        {
            get
            {
                if (_index < _chunk.Count)
                {
                    return _chunk[_index];
                }

                if (_nextRead >= end)
                {
                    return null;
                }

                _chunk = Reader.Read(_nextRead, Math.Min(end, _nextRead + 512), MaxPageBytes);
                _index = 0;
                _nextRead += _chunk.Count;
                return _chunk.Count > 0 ? _chunk[0] : null;
            }
        }

        public void Start(long position)
        {
            _nextRead = position;
            _chunk = [];
            _index = 0;
        }

        public void MoveNext() => _index++;
    }
}
