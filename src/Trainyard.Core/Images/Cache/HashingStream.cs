using System.Security.Cryptography;
using Trainyard.Storage;

namespace Trainyard.Images.Cache;

/// <summary>A read-only stream that hashes (SHA-256) and counts what passes through it.</summary>
public sealed class HashingStream(Stream inner, Action<int>? onRead = null) : OwningReadStream(inner)
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long BytesRead { get; private set; }

    /// <summary>The digest of everything read, as <c>sha256:hex</c>.</summary>
    public string Digest() => "sha256:" + Convert.ToHexStringLower(_hash.GetHashAndReset());

    /// <summary>Reads to the end, so that the digest covers the whole stream.</summary>
    public void Drain()
    {
        var buffer = new byte[1 << 16];
        while (Read(buffer) > 0)
        {
        }
    }

    public override int Read(Span<byte> buffer) => Took(buffer, Inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Took(buffer.Span, n);
    }

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Took(ReadOnlySpan<byte> buffer, int n)
    {
        if (n > 0)
        {
            _hash.AppendData(buffer[..n]);
            BytesRead += n;
            onRead?.Invoke(n);
        }

        return n;
    }
}
