using System.Buffers.Binary;
using Trainyard.DataPlane.Pipe;

namespace Trainyard.Tests.DataPlane.Pipe;

public class RecordIOTests
{
    private static readonly byte[] Magic = [0x0a, 0x23, 0xd7, 0xce];

    [Fact]
    public async Task WriteRecord_NoMagic_HeaderPayloadPadding()
    {
        var bytes = await EncodeAsync("abcde"u8.ToArray());

        Assert.Equal(16, bytes.Length);
        Assert.Equal(RecordIO.Magic, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal("abcde"u8.ToArray(), bytes[8..13]);
        Assert.Equal(new byte[3], bytes[13..16]);
    }

    [Fact]
    public async Task WriteRecord_AlignedMagic_SplitsLikeDmlc()
    {
        // dmlc: a magic at an aligned offset ends a frame (cflag 1, then 2 …), is dropped, and the last part has cflag 3.
        byte[] payload = [1, 2, 3, 4, .. Magic, .. Magic, 5, 6, 7, 8, 9];
        var bytes = await EncodeAsync(payload);

        var frames = ParseFrames(bytes);
        Assert.Equal([(1, 4), (2, 0), (3, 5)], frames.Select(f => (f.Cflag, f.Payload.Length)).ToArray());
        Assert.Equal([1, 2, 3, 4], frames[0].Payload);
        Assert.Equal([5, 6, 7, 8, 9], frames[2].Payload);
        Assert.Equal(8 + 4 + 8 + 0 + 8 + 8, bytes.Length);
    }

    [Fact]
    public async Task WriteRecord_UnalignedMagic_NotSplit()
    {
        byte[] payload = [1, .. Magic, 2, 3, 4];
        var frames = ParseFrames(await EncodeAsync(payload));

        Assert.Single(frames);
        Assert.Equal(0, frames[0].Cflag);
        Assert.Equal(payload, frames[0].Payload);
    }

    [Fact]
    public async Task WriteRecord_MagicAtStartAndEnd_RoundTrips()
    {
        byte[] payload = [.. Magic, 9, 9, 9, 9, .. Magic];
        var frames = ParseFrames(await EncodeAsync(payload));

        Assert.Equal([(1, 0), (2, 4), (3, 0)], frames.Select(f => (f.Cflag, f.Payload.Length)).ToArray());
        Assert.Equal(payload, await DecodeSingleAsync(await EncodeAsync(payload)));
    }

    [Fact]
    public async Task ReadRecord_RandomPayloadsWithMagics_RoundTrip()
    {
        var random = new Random(1234);
        for (var i = 0; i < 300; i++)
        {
            var payload = RandomPayload(random, random.Next(0, 200));
            Assert.Equal(payload, await DecodeSingleAsync(await EncodeAsync(payload)));
        }
    }

    [Fact]
    public async Task WriteRecord_StreamedLargePayload_SameBytesAsInMemory()
    {
        // Larger than the in-memory limit, so the writer scans first and streams on a second read.
        var random = new Random(99);
        var payload = RandomPayload(random, RecordIOWriter.InMemoryLimit + (3 << 20) + 3);
        using var streamed = new MemoryStream();
        var writer = new RecordIOWriter(streamed);
        var length = await writer.WriteRecordAsync(_ => Task.FromResult<Stream>(new TrickleStream(payload)), CancellationToken.None);

        Assert.Equal(payload.Length, length);
        Assert.Equal(EncodeReference(payload), streamed.ToArray());
        Assert.True(writer.FramesWritten > 1);
        Assert.Equal(payload, await DecodeSingleAsync(streamed.ToArray()));
    }

    [Fact]
    public async Task WriteRecord_PayloadChangesBetweenReads_Throws()
    {
        var payload = new byte[RecordIOWriter.InMemoryLimit + 10];
        var reads = 0;
        var writer = new RecordIOWriter(new MemoryStream());

        await Assert.ThrowsAsync<InvalidDataException>(() => writer.WriteRecordAsync(
            _ => Task.FromResult<Stream>(new MemoryStream(reads++ == 0 ? payload : payload[..^8])), CancellationToken.None));
    }

    [Fact]
    public async Task ReadRecord_BadMagic_Throws()
    {
        var bytes = await EncodeAsync([1, 2, 3, 4]);
        bytes[0] ^= 0xff;

        await Assert.ThrowsAsync<InvalidDataException>(() => new RecordIOReader(new MemoryStream(bytes)).ReadRecordAsync(CancellationToken.None));
    }

    internal static byte[] RandomPayload(Random random, int length)
    {
        var payload = new byte[length];
        random.NextBytes(payload);
        var magics = length / 16;
        for (var m = 0; m < magics; m++)
        {
            var at = random.Next(0, Math.Max(1, length - 3));
            if (random.Next(3) > 0)
            {
                at &= ~3;
            }

            if (at + 4 <= length)
            {
                Magic.CopyTo(payload, at);
            }
        }

        return payload;
    }

    // dmlc-core's RecordIOWriter::WriteRecord, transcribed literally, as the reference.
    internal static byte[] EncodeReference(byte[] payload)
    {
        using var output = new MemoryStream();
        var len = (uint)payload.Length;
        var lowerAlign = (len >> 2) << 2;
        var upperAlign = ((len + 3) >> 2) << 2;
        uint dptr = 0;
        for (uint i = 0; i < lowerAlign; i += 4)
        {
            if (payload[i] == Magic[0] && payload[i + 1] == Magic[1] && payload[i + 2] == Magic[2] && payload[i + 3] == Magic[3])
            {
                WriteWord(output, RecordIO.Magic);
                WriteWord(output, ((dptr == 0 ? 1u : 2u) << 29) | (i - dptr));
                output.Write(payload, (int)dptr, (int)(i - dptr));
                dptr = i + 4;
            }
        }

        WriteWord(output, RecordIO.Magic);
        WriteWord(output, ((dptr != 0 ? 3u : 0u) << 29) | (len - dptr));
        output.Write(payload, (int)dptr, (int)(len - dptr));
        output.Write(new byte[upperAlign - len]);
        return output.ToArray();
    }

    private static void WriteWord(Stream output, uint value)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, value);
        output.Write(word);
    }

    private static async Task<byte[]> EncodeAsync(byte[] payload)
    {
        using var output = new MemoryStream();
        await new RecordIOWriter(output).WriteRecordAsync(payload, CancellationToken.None);
        var bytes = output.ToArray();
        Assert.Equal(EncodeReference(payload), bytes);
        return bytes;
    }

    private static async Task<byte[]> DecodeSingleAsync(byte[] bytes)
    {
        var reader = new RecordIOReader(new MemoryStream(bytes));
        var record = await reader.ReadRecordAsync(CancellationToken.None);
        Assert.NotNull(record);
        Assert.Null(await reader.ReadRecordAsync(CancellationToken.None));
        return record;
    }

    private static List<(int Cflag, byte[] Payload)> ParseFrames(byte[] bytes)
    {
        var frames = new List<(int, byte[])>();
        var at = 0;
        while (at < bytes.Length)
        {
            Assert.Equal(RecordIO.Magic, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)));
            var word = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4));
            var length = (int)(word & ((1 << 29) - 1));
            frames.Add(((int)(word >> 29), bytes[(at + 8)..(at + 8 + length)]));
            at += 8 + length + RecordIO.PaddingFor(length);
        }

        return frames;
    }

    /// <summary>Returns odd-sized reads, as a network stream does, to exercise alignment across reads.</summary>
    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        private int _next = 1;

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, NextSize())]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        private int NextSize()
        {
            _next = (_next * 7919 + 13) % 70001;
            return _next + 1;
        }
    }
}
