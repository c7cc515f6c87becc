using System.Buffers.Binary;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// Reads RecordIO records (see <see cref="RecordIO"/>) from a stream, joining split records with the magic,
/// and checking every frame: the magic, the continuation sequence and zero padding.
/// </summary>
public sealed class RecordIOReader(Stream input)
{
    private readonly Stream _input = input ?? throw new ArgumentNullException(nameof(input));
    private readonly byte[] _header = new byte[RecordIO.HeaderSize];

    /// <summary>Frames read so far.</summary>
    public long FramesRead { get; private set; }

    /// <summary>The next record, or null at the end of the stream.</summary>
    /// <exception cref="InvalidDataException">The stream is not well-formed RecordIO.</exception>
    public async Task<byte[]?> ReadRecordAsync(CancellationToken cancellationToken)
    {
        using var record = new MemoryStream();
        var expectFirst = true;
        while (true)
        {
            var n = await _input.ReadAtLeastAsync(_header, _header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (n == 0 && expectFirst)
            {
                return null;
            }

            if (n < _header.Length)
            {
                throw new InvalidDataException($"Truncated frame header after {FramesRead} frames.");
            }

            if (BinaryPrimitives.ReadUInt32LittleEndian(_header) != RecordIO.Magic)
            {
                throw new InvalidDataException($"Bad magic in frame {FramesRead}.");
            }

            var word = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(4));
            var cflag = (int)(word >> 29);
            var length = (int)(word & RecordIO.MaxRecordLength);
            if (expectFirst ? cflag is 2 or 3 : cflag is 0 or 1)
            {
                throw new InvalidDataException($"Unexpected continuation flag {cflag} in frame {FramesRead}.");
            }

            if (!expectFirst)
            {
                record.Write(RecordIO.MagicBytes);
            }

            var payload = new byte[length + RecordIO.PaddingFor(length)];
            await _input.ReadExactlyAsync(payload, cancellationToken).ConfigureAwait(false);
            if (payload.AsSpan(length).ContainsAnyExcept((byte)0))
            {
                throw new InvalidDataException($"Non-zero padding in frame {FramesRead}.");
            }

            record.Write(payload, 0, length);
            FramesRead++;
            if (cflag is 0 or 3)
            {
                return record.ToArray();
            }

            expectFirst = false;
        }
    }
}
