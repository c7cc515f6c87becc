using System.IO.Compression;
using Trainyard.DataPlane.Pipe;

namespace Trainyard.Tests.DataPlane.Pipe;

public class GzipDecoderTests
{
    private static byte[] Gzip(byte[] content)
    {
        using var output = new MemoryStream();
        using (var zip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            zip.Write(content);
        }

        return output.ToArray();
    }

    private static byte[] Sample(int seed, int length)
    {
        var random = new Random(seed);
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)"abcdefgh \n"[random.Next(10)];
        }

        return bytes;
    }

    private static async Task<byte[]> DecodeAsync(byte[] compressed)
    {
        await using var decoder = new GzipDecoder(new MemoryStream(compressed));
        using var output = new MemoryStream();
        await decoder.CopyToAsync(output);
        return output.ToArray();
    }

    [Fact]
    public async Task Read_SingleMember_Decompresses()
    {
        var content = Sample(1, 3 << 20);
        Assert.Equal(content, await DecodeAsync(Gzip(content)));
    }

    [Fact]
    public async Task Read_ConcatenatedMembers_DecompressesAll()
    {
        var a = Sample(2, 100000);
        var b = Sample(3, 5);
        byte[] both = [.. Gzip(a), .. Gzip(b)];
        byte[] expected = [.. a, .. b];
        Assert.Equal(expected, await DecodeAsync(both));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4099)]
    [InlineData(1 << 20)]
    public async Task Read_IncompressibleOrEmpty_Decompresses(int length)
    {
        var content = new byte[length];
        new Random(length).NextBytes(content);
        Assert.Equal(content, await DecodeAsync(Gzip(content)));
    }

    [Fact]
    public void Read_Synchronously_Decompresses()
    {
        var content = Sample(4, 70000);
        using var decoder = new GzipDecoder(new MemoryStream(Gzip(content)));
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        Assert.Equal(content, output.ToArray());
    }

    [Fact]
    public async Task Read_Truncated_Throws()
    {
        var compressed = Gzip(Sample(5, 1 << 20));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(compressed[..(compressed.Length / 2)]));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Read_TrailerMissing_Throws()
    {
        var compressed = Gzip(Sample(6, 1000));
        await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(compressed[..^8]));
    }

    [Fact]
    public async Task Read_CrcMismatch_Throws()
    {
        var compressed = Gzip(Sample(7, 1000));
        compressed[^8] ^= 1;
        await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(compressed));
    }

    [Fact]
    public async Task Read_NotGzip_Throws()
    {
        await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync("plain text, not gzip"u8.ToArray()));
    }

    [Fact]
    public async Task Read_TrailingGarbage_Throws()
    {
        byte[] junk = [.. Gzip(Sample(8, 100)), .. "junk"u8.ToArray()];
        await Assert.ThrowsAsync<InvalidDataException>(() => DecodeAsync(junk));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8192)]
    public async Task Read_ConcatenatedMembersInSmallReads_DecompressesAll(int chunk)
    {
        var a = Sample(9, 50000);
        var b = Sample(10, 3000);
        byte[] both = [.. Gzip(a), .. Gzip(b)];
        await using var decoder = new GzipDecoder(new Chunked(both, chunk));
        using var output = new MemoryStream();
        await decoder.CopyToAsync(output);
        Assert.Equal([.. a, .. b], output.ToArray());
    }

    [Fact]
    public async Task Read_TruncatedInSmallReads_Throws()
    {
        var compressed = Gzip(Sample(11, 1 << 16));
        await using var decoder = new GzipDecoder(new Chunked(compressed[..^3], 5));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => decoder.CopyToAsync(Stream.Null));
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    /// <summary>An input that returns at most <c>chunk</c> bytes per read, so members end on read boundaries.</summary>
    private sealed class Chunked(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, chunk)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
