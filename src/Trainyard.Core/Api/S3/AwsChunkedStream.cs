using System.Globalization;
using System.Text;

namespace Trainyard.Api.S3;

/// <summary>
/// Decodes an <c>aws-chunked</c> request body — what SDKs send with <c>x-amz-content-sha256</c> of
/// <c>STREAMING-AWS4-HMAC-SHA256-PAYLOAD</c> (each chunk <c>&lt;hex size&gt;;chunk-signature=…\r\n&lt;data&gt;\r\n</c>),
/// <c>…-PAYLOAD-TRAILER</c> or <c>STREAMING-UNSIGNED-PAYLOAD-TRAILER</c> (a zero-size chunk followed by trailing
/// headers such as <c>x-amz-checksum-crc32:…</c> and a blank line) — into the object's bytes. Chunk
/// signatures are parsed, not verified (signature verification comes with the server's credentials).
/// </summary>
internal sealed class AwsChunkedStream(Stream inner) : Stream
{
    private const int MaxLine = 8 * 1024;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _position;
    private int _length;
    private long _chunkRemaining;
    private bool _inChunk;
    private bool _started;
    private bool _done;

    /// <summary>The trailing headers, names lower case; complete once a read has returned 0.</summary>
    public Dictionary<string, string> Trailers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_done || destination.Length == 0)
        {
            return 0;
        }

        if (!_inChunk)
        {
            if (_started)
            {
                var end = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (end.Length != 0)
                {
                    throw Malformed("a chunk's data is longer than its size");
                }
            }

            _started = true;
            var header = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
            var semicolon = header.IndexOf(';', StringComparison.Ordinal);
            var hex = semicolon < 0 ? header : header[..semicolon];
            if (!long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw Malformed($"'{Shorten(header)}' is not a chunk header");
            }

            if (size == 0)
            {
                await ReadTrailersAsync(cancellationToken).ConfigureAwait(false);
                _done = true;
                return 0;
            }

            _chunkRemaining = size;
            _inChunk = true;
        }

        var want = (int)Math.Min(destination.Length, _chunkRemaining);
        int n;
        if (_position < _length)
        {
            n = Math.Min(want, _length - _position);
            _buffer.AsSpan(_position, n).CopyTo(destination.Span);
            _position += n;
        }
        else
        {
            n = await inner.ReadAsync(destination[..want], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw Incomplete();
            }
        }

        _chunkRemaining -= n;
        if (_chunkRemaining == 0)
        {
            _inChunk = false;
        }

        return n;
    }

    private async Task ReadTrailersAsync(CancellationToken cancellationToken)
    {
        for (var count = 0; count < 64; count++)
        {
            var line = await ReadLineAsync(cancellationToken, endOfInputIsBlank: true).ConfigureAwait(false);
            if (line.Length == 0)
            {
                return;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw Malformed($"the trailer '{Shorten(line)}' is not 'name:value'");
            }

            Trailers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        throw Malformed("it has more than 64 trailing headers");
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken, bool endOfInputIsBlank = false)
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_position == _length)
            {
                _position = 0;
                _length = await inner.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
                if (_length == 0)
                {
                    if (endOfInputIsBlank && line.Length == 0)
                    {
                        return "";
                    }

                    throw Incomplete();
                }
            }

            var span = _buffer.AsSpan(_position, _length - _position);
            var lf = span.IndexOf((byte)'\n');
            var take = lf < 0 ? span.Length : lf + 1;
            line.Append(Encoding.ASCII.GetString(span[..take]));
            _position += take;
            if (line.Length > MaxLine)
            {
                throw Malformed("a chunk header or trailer is longer than 8 KiB");
            }

            if (lf >= 0)
            {
                return line.ToString().TrimEnd('\n').TrimEnd('\r');
            }
        }
    }

    private static string Shorten(string s) => s.Length > 80 ? s[..80] + "…" : s;

    private static S3Exception Malformed(string why) =>
        new("InvalidRequest", 400, $"The aws-chunked request body is malformed: {why}.");

    private static S3Exception Incomplete() =>
        new("IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header: the aws-chunked body ended early.");

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
