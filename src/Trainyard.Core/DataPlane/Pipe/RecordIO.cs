using System.Buffers.Binary;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// The RecordIO framing of dmlc-core (MXNet's <c>.rec</c>), which SageMaker Pipe mode uses: each frame is the
/// magic <c>0xced7230a</c>, a little-endian word <c>cflag &lt;&lt; 29 | length</c>, the payload and zero padding to
/// 4 bytes. A payload that contains the magic at a 4-byte-aligned offset is split there into frames flagged
/// 1 (first), 2 (middle), 3 (last); the magic itself is dropped and a reader puts it back between parts.
/// </summary>
public static class RecordIO
{
    /// <summary>The frame magic.</summary>
    public const uint Magic = 0xced7230a;

    /// <summary>The largest record dmlc accepts (its length must fit 29 bits).</summary>
    public const int MaxRecordLength = (1 << 29) - 1;

    /// <summary>The size of a frame header.</summary>
    public const int HeaderSize = 8;

    internal static ReadOnlySpan<byte> MagicBytes => [0x0a, 0x23, 0xd7, 0xce];

    /// <summary>Writes a frame header for <paramref name="length"/> payload bytes with continuation flag <paramref name="cflag"/>.</summary>
    public static void WriteHeader(Span<byte> destination, int cflag, int length)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], ((uint)cflag << 29) | (uint)length);
    }

    /// <summary>The padding after a payload of <paramref name="length"/> bytes.</summary>
    public static int PaddingFor(long length) => (int)((4 - (length & 3)) & 3);

    /// <summary>
    /// Adds to <paramref name="positions"/> every 4-byte-aligned offset (relative to the record start) where
    /// the magic occurs in <paramref name="data"/>, which starts at record offset <paramref name="baseOffset"/>
    /// (a multiple of 4).
    /// </summary>
    public static void FindMagic(ReadOnlySpan<byte> data, long baseOffset, List<long> positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var start = 0;
        while (start + 4 <= data.Length)
        {
            var hit = data[start..].IndexOf(MagicBytes);
            if (hit < 0)
            {
                return;
            }

            var at = start + hit;
            if (((baseOffset + at) & 3) == 0)
            {
                positions.Add(baseOffset + at);
                start = at + 4;
            }
            else
            {
                start = at + 1;
            }
        }
    }
}
