using System.Buffers;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// Writes RecordIO records (see <see cref="RecordIO"/>) to a stream, byte for byte as dmlc-core's
/// <c>RecordIOWriter::WriteRecord</c> does. Records of any size stream with bounded memory.
/// </summary>
public sealed class RecordIOWriter(Stream output)
{
    /// <summary>Payloads up to this size are buffered and framed in one pass; larger ones are read twice.</summary>
    public const int InMemoryLimit = 4 << 20;

    private const int CopyBufferSize = 1 << 20;

    private readonly Stream _output = output ?? throw new ArgumentNullException(nameof(output));
    private readonly byte[] _header = new byte[RecordIO.HeaderSize];

    /// <summary>Frames written so far (a record split at embedded magics counts several).</summary>
    public long FramesWritten { get; private set; }

    /// <summary>Writes one record whose payload is in memory.</summary>
    public async Task WriteRecordAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        CheckLength(payload.Length);
        var positions = new List<long>();
        RecordIO.FindMagic(payload.Span, 0, positions);
        long start = 0;
        foreach (var position in positions)
        {
            await WriteFrameHeaderAsync(start == 0 ? 1 : 2, position - start, cancellationToken).ConfigureAwait(false);
            await _output.WriteAsync(payload[(int)start..(int)position], cancellationToken).ConfigureAwait(false);
            start = position + 4;
        }

        await WriteFrameHeaderAsync(positions.Count > 0 ? 3 : 0, payload.Length - start, cancellationToken).ConfigureAwait(false);
        await _output.WriteAsync(payload[(int)start..], cancellationToken).ConfigureAwait(false);
        await WritePaddingAsync(payload.Length, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes one record whose payload is the content of a stream that <paramref name="open"/> opens. A payload
    /// larger than <see cref="InMemoryLimit"/> is scanned for magics first and then opened again and streamed.
    /// Returns the payload's length.
    /// </summary>
    /// <exception cref="InvalidDataException">The payload is too large for RecordIO, or changed between the two reads.</exception>
    public async Task<long> WriteRecordAsync(Func<CancellationToken, Task<Stream>> open, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(open);
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        var head = ArrayPool<byte>.Shared.Rent(InMemoryLimit + 1);
        try
        {
            List<long> positions = [];
            long length;
            var first = await open(cancellationToken).ConfigureAwait(false);
            await using (first.ConfigureAwait(false))
            {
                var n = await first.ReadAtLeastAsync(head.AsMemory(0, InMemoryLimit + 1), InMemoryLimit + 1, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                if (n <= InMemoryLimit)
                {
                    await WriteRecordAsync(head.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    return n;
                }

                // Too large to hold: find the magics (aligned reads keep offsets multiples of 4), then stream.
                var scanned = n & ~3;
                RecordIO.FindMagic(head.AsSpan(0, scanned), 0, positions);
                var carry = n - scanned;
                head.AsSpan(scanned, carry).CopyTo(buffer);
                length = scanned;
                bool atEnd;
                do
                {
                    var wanted = CopyBufferSize - carry;
                    var read = await first.ReadAtLeastAsync(buffer.AsMemory(carry, wanted), wanted, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                    atEnd = read < wanted;
                    var available = carry + read;
                    var whole = atEnd ? available : available & ~3;
                    RecordIO.FindMagic(buffer.AsSpan(0, whole), length, positions);
                    length += whole;
                    carry = available - whole;
                    buffer.AsSpan(whole, carry).CopyTo(buffer);
                    CheckLength(length);
                }
                while (!atEnd);
            }

            var second = await open(cancellationToken).ConfigureAwait(false);
            await using (second.ConfigureAwait(false))
            {
                long start = 0;
                foreach (var position in positions)
                {
                    await WriteFrameHeaderAsync(start == 0 ? 1 : 2, position - start, cancellationToken).ConfigureAwait(false);
                    await CopyExactlyAsync(second, position - start, buffer, cancellationToken).ConfigureAwait(false);
                    await second.ReadExactlyAsync(buffer.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
                    if (!buffer.AsSpan(0, 4).SequenceEqual(RecordIO.MagicBytes))
                    {
                        throw new InvalidDataException("The payload changed between its two reads.");
                    }

                    start = position + 4;
                }

                await WriteFrameHeaderAsync(positions.Count > 0 ? 3 : 0, length - start, cancellationToken).ConfigureAwait(false);
                await CopyExactlyAsync(second, length - start, buffer, cancellationToken).ConfigureAwait(false);
                if (await second.ReadAsync(buffer.AsMemory(0, 1), cancellationToken).ConfigureAwait(false) != 0)
                {
                    throw new InvalidDataException("The payload changed between its two reads.");
                }

                await WritePaddingAsync(length, cancellationToken).ConfigureAwait(false);
                return length;
            }
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("The payload changed between its two reads.", e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(head);
        }
    }

    private static void CheckLength(long length)
    {
        if (length > RecordIO.MaxRecordLength)
        {
            throw new InvalidDataException($"A RecordIO record holds at most {RecordIO.MaxRecordLength} bytes; this payload has more.");
        }
    }

    private async Task CopyExactlyAsync(Stream source, long count, byte[] buffer, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            var n = (int)Math.Min(count, buffer.Length);
            await source.ReadExactlyAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            await _output.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            count -= n;
        }
    }

    private async Task WriteFrameHeaderAsync(int cflag, long length, CancellationToken cancellationToken)
    {
        RecordIO.WriteHeader(_header, cflag, (int)length);
        await _output.WriteAsync(_header, cancellationToken).ConfigureAwait(false);
        FramesWritten++;
    }

    private async Task WritePaddingAsync(long length, CancellationToken cancellationToken)
    {
        var padding = RecordIO.PaddingFor(length);
        if (padding > 0)
        {
            await _output.WriteAsync(new byte[padding], cancellationToken).ConfigureAwait(false);
        }
    }
}
