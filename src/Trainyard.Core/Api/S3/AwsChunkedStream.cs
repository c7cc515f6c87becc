using System.Globalization;
using System.Text;

namespace Trainyard.Api.S3;

/// <summary>
/// Decodes an <c>aws-chunked</c> request body — what SDKs send with <c>x-amz-content-sha256</c> of
/// <c>STREAMING-AWS4-HMAC-SHA256-PAYLOAD</c> (each chunk <c>&lt;hex size&gt;;chunk-signature=…\r\n&lt;data&gt;\r\n</c>),
/// <c>…-PAYLOAD-TRAILER</c> or <c>STREAMING-UNSIGNED-PAYLOAD-TRAILER</c> (a zero-size chunk followed by trailing
/// headers such as <c>x-amz-checksum-crc32:…</c> and a blank line) — into the object's bytes. With a
/// verified request signature (the server has credentials), every chunk's signature is checked as the
/// chunk ends — each chains from the one before, the first from the request's — and so is the trailer's.
/// </summary>
internal sealed class AwsChunkedStream(Stream inner, Auth.VerifiedSignature? signer = null) : Storage.ReadOnlyStream
{
    private static readonly string EmptyHash = Auth.SigV4Verifier.Hex(System.Security.Cryptography.SHA256.HashData([]));
    private readonly System.Security.Cryptography.IncrementalHash? _chunkHash = signer is null ? null : System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
    private string? _previousSignature = signer?.SeedSignature;
    private string? _chunkSignature;
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
            _chunkSignature = semicolon >= 0 && header[(semicolon + 1)..].StartsWith("chunk-signature=", StringComparison.Ordinal) ? header[(semicolon + 1 + "chunk-signature=".Length)..] : null;
            if (signer is not null && _chunkSignature is null)
            {
                throw BadSignature("a chunk has no chunk-signature");
            }
            if (!long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var size) || size < 0)
            {
                throw Malformed($"'{Shorten(header)}' is not a chunk header");
            }

            if (size == 0)
            {
                VerifyChunk();
                await ReadTrailersAsync(cancellationToken).ConfigureAwait(false);
                VerifyTrailer();
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

        _chunkHash?.AppendData(destination.Span[..n]);
        _chunkRemaining -= n;
        if (_chunkRemaining == 0)
        {
            _inChunk = false;
            VerifyChunk();
        }

        return n;
    }

    private readonly List<string> _trailerLines = [];

    // AWS4-HMAC-SHA256-PAYLOAD: the chunk's signature over the previous one and the chunk's bytes.
    private void VerifyChunk()
    {
        if (signer is null)
        {
            return;
        }

        var data = Auth.SigV4Verifier.Hex(_chunkHash!.GetHashAndReset());
        var expected = Sign($"AWS4-HMAC-SHA256-PAYLOAD\n{signer.RequestTime}\n{signer.Scope}\n{_previousSignature}\n{EmptyHash}\n{data}");
        if (!Same(expected, _chunkSignature))
        {
            throw BadSignature("a chunk's signature does not match its bytes");
        }

        _previousSignature = expected;
    }

    // AWS4-HMAC-SHA256-TRAILER: the trailer's signature over the last chunk's and the trailing headers.
    private void VerifyTrailer()
    {
        if (signer is null || !Trailers.TryGetValue("x-amz-trailer-signature", out var given))
        {
            return;
        }

        var text = string.Concat(_trailerLines.Select(l => l + "\n"));
        var hash = Auth.SigV4Verifier.Hex(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)));
        var expected = Sign($"AWS4-HMAC-SHA256-TRAILER\n{signer.RequestTime}\n{signer.Scope}\n{_previousSignature}\n{hash}");
        if (!Same(expected, given))
        {
            throw BadSignature("the trailer's signature does not match its headers");
        }
    }

    private string Sign(string stringToSign) =>
        Auth.SigV4Verifier.Hex(System.Security.Cryptography.HMACSHA256.HashData(signer!.SigningKey, Encoding.UTF8.GetBytes(stringToSign)));

    private static bool Same(string expected, string? given) =>
        given is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(given));

    private static S3Exception BadSignature(string why) =>
        new("SignatureDoesNotMatch", 403, $"The request signature we calculated does not match the signature you provided: {why}.");

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

            var name = line[..colon].Trim();
            Trailers[name] = line[(colon + 1)..].Trim();
            if (!name.Equals("x-amz-trailer-signature", StringComparison.OrdinalIgnoreCase))
            {
                _trailerLines.Add(name.ToLowerInvariant() + ":" + Trailers[name]);
            }
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

    public override int Read(Span<byte> buffer)
    {
        var rented = new byte[buffer.Length];
        var n = ReadAsync(rented).AsTask().GetAwaiter().GetResult();
        rented.AsSpan(0, n).CopyTo(buffer);
        return n;
    }
}
