using System.Buffers.Binary;

namespace Trainyard.Logs;

/// <summary>
/// The on-disk format of a log stream's index, <c>&lt;host&gt;-&lt;epoch&gt;.idx</c> beside the text log
/// <c>&lt;host&gt;-&lt;epoch&gt;.log</c>. The text log stays plain lines (people and <c>tail -f</c> read it);
/// the index gives each line its place and its times, so a reader pages a million-line stream without
/// scanning it.
/// <para>
/// Layout (little-endian): a 16-byte header — the magic <c>TYLOGIDX</c>, the format version (uint32)
/// and the record size (uint32) — then one 24-byte record per line, in the order the lines were written:
/// the line's byte offset in the text log (int64), its length in bytes without the newline (int32), the
/// millisecond timestamp at which the host runtime received it from the algorithm (int64), and the
/// milliseconds between that and when the line was stored (int32, CloudWatch's <c>ingestionTime</c>).
/// A record is appended only after its line is in the text log, so every record a reader sees points at
/// whole bytes; bytes of the text log that no record covers (a runtime killed between the two writes)
/// are never served. Timestamps never decrease within a stream.
/// </para>
/// </summary>
public static class LogIndex
{
    /// <summary>The format version this build writes and reads.</summary>
    public const uint Version = 1;

    public const int HeaderSize = 16;

    public const int RecordSize = 24;

    private static ReadOnlySpan<byte> Magic => "TYLOGIDX"u8;

    /// <summary>The index path of a text log: <c>algo-1-1700000000.log</c> → <c>algo-1-1700000000.idx</c>.</summary>
    public static string PathOf(string logPath) => Path.ChangeExtension(logPath, ".idx");

    public static void WriteHeader(Span<byte> header)
    {
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], RecordSize);
    }

    /// <summary>Checks a header; the message says what is wrong with it.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> header, out string? problem)
    {
        problem = null;
        if (header.Length < HeaderSize || !header[..8].SequenceEqual(Magic))
        {
            problem = "not a Trainyard log index";
        }
        else if (BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) is var version && version != Version)
        {
            problem = $"log index format version {version}; this Trainyard reads version {Version}";
        }
        else if (BinaryPrimitives.ReadUInt32LittleEndian(header[12..]) != RecordSize)
        {
            problem = "log index with an unexpected record size";
        }

        return problem is null;
    }

    public static void WriteRecord(Span<byte> record, long offset, int length, long timestamp, int ingestionDelay)
    {
        BinaryPrimitives.WriteInt64LittleEndian(record, offset);
        BinaryPrimitives.WriteInt32LittleEndian(record[8..], length);
        BinaryPrimitives.WriteInt64LittleEndian(record[12..], timestamp);
        BinaryPrimitives.WriteInt32LittleEndian(record[20..], ingestionDelay);
    }

    public static LogRecord ReadRecord(ReadOnlySpan<byte> record) => new(
        BinaryPrimitives.ReadInt64LittleEndian(record),
        BinaryPrimitives.ReadInt32LittleEndian(record[8..]),
        BinaryPrimitives.ReadInt64LittleEndian(record[12..]),
        BinaryPrimitives.ReadInt32LittleEndian(record[20..]));
}
