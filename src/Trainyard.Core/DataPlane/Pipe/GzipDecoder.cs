using System.IO.Compression;
using System.Security.Cryptography;
using Trainyard.Storage;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// Decompresses a gzip object — every member of it, as <c>gzip -dc</c> does — with
/// <see cref="GZipStream"/>, but fails on a truncated object instead of ending quietly. A zero-byte object is
/// empty content.
/// </summary>
/// <remarks>
/// GZipStream returns end-of-stream both after a last complete member and in the middle of a cut-off one. So
/// at the end of the input one more member is appended, holding a per-process random marker: it decodes only
/// if everything before it ended on a member boundary, and it is stripped from the output.
/// </remarks>
/// <exception cref="InvalidDataException">Thrown by reads when the data is not gzip, is corrupt or is truncated.</exception>
internal sealed class GzipDecoder : OwningReadStream
{
    private static readonly byte[] Marker = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] MarkerMember = Compress(Marker);

    private readonly MarkedInput _input;

    // Output decoded after the marker member went in: its last Marker.Length bytes are held back until the end.
    private readonly byte[] _tail = new byte[1 << 16];
    private int _tailCount;
    private bool _ended;
    private bool _finished;

    public GzipDecoder(Stream input)
        : this(new MarkedInput(input))
    {
    }

    // Inner is the GZipStream over the marked input.
    private GzipDecoder(MarkedInput input)
        : base(new GZipStream(input, CompressionMode.Decompress)) => _input = input;

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            if (TryServe(buffer, out var served))
            {
                return served;
            }

            var direct = !_input.MarkerSent;
            int read;
            try
            {
                read = direct ? Inner.Read(buffer) : Inner.Read(_tail.AsSpan(_tailCount));
            }
            catch (InvalidDataException e)
            {
                throw Invalid(e);
            }

            if (Took(buffer, direct, read) is > 0 and var n)
            {
                return n;
            }
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryServe(buffer.Span, out var served))
            {
                return served;
            }

            var direct = !_input.MarkerSent;
            int read;
            try
            {
                read = await Inner.ReadAsync(direct ? buffer : _tail.AsMemory(_tailCount), cancellationToken).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw Invalid(e);
            }

            if (Took(buffer.Span, direct, read) is > 0 and var n)
            {
                return n;
            }
        }
    }

    /// <summary>Serves held-back output, or the end; false when more must be decoded first.</summary>
    private bool TryServe(Span<byte> buffer, out int served)
    {
        served = 0;
        if (_finished || buffer.IsEmpty)
        {
            return true;
        }

        if (_tailCount > Marker.Length)
        {
            served = Math.Min(buffer.Length, _tailCount - Marker.Length);
            _tail.AsSpan(0, served).CopyTo(buffer);
            _tail.AsSpan(served, _tailCount - served).CopyTo(_tail);
            _tailCount -= served;
            return true;
        }

        if (!_ended)
        {
            return false;
        }

        if (!_tail.AsSpan(0, _tailCount).SequenceEqual(Marker))
        {
            throw Truncated(null);
        }

        _finished = true;
        return true;
    }

    /// <summary>How many of <paramref name="read"/> decoded bytes the caller gets now (0: decode more).</summary>
    private int Took(Span<byte> buffer, bool direct, int read)
    {
        if (read == 0)
        {
            _ended = true;
            return 0;
        }

        if (!direct)
        {
            _tailCount += read;
            return 0;
        }

        if (!_input.MarkerSent)
        {
            return read;
        }

        // The marker member went in during this read, so what came out may end with (part of) the marker.
        var keep = Math.Min(read, Marker.Length);
        buffer.Slice(read - keep, keep).CopyTo(_tail);
        _tailCount = keep;
        return read - keep;
    }

    // Once the marker member is in, all the real input was consumed: a failure then means it ended inside a member.
    private InvalidDataException Invalid(InvalidDataException e) =>
        _input.MarkerSent ? Truncated(e) : new InvalidDataException("not gzip, or corrupt gzip data (bad header, CRC-32 or length)", e);

    private static InvalidDataException Truncated(Exception? inner) =>
        new("unexpected end of gzip data (truncated object, or bytes after the last member that are not gzip)", inner);

    private static byte[] Compress(byte[] content)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.NoCompression, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return output.ToArray();
    }

    /// <summary>The object's bytes, then the marker member.</summary>
    private sealed class MarkedInput(Stream inner) : OwningReadStream(inner)
    {
        private int _markerOffset = -1;

        public bool MarkerSent => _markerOffset >= 0;

        public override int Read(Span<byte> buffer)
        {
            if (!MarkerSent && buffer.Length > 0 && Inner.Read(buffer) is > 0 and var n)
            {
                return n;
            }

            return Marker(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!MarkerSent && buffer.Length > 0 && await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false) is > 0 and var n)
            {
                return n;
            }

            return Marker(buffer.Span);
        }

        private int Marker(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }

            _markerOffset = Math.Max(_markerOffset, 0);
            var n = Math.Min(buffer.Length, MarkerMember.Length - _markerOffset);
            MarkerMember.AsSpan(_markerOffset, n).CopyTo(buffer);
            _markerOffset += n;
            return n;
        }
    }
}
