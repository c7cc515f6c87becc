using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Trainyard.S3.Tests;

public sealed class Md5LanesTests
{
    [Fact]
    public void Finish_WithoutFullBlocks_MatchesMd5ForEveryTailLength()
    {
        // The scalar tail path alone: 0..127 bytes covers the one- and two-block paddings.
        Span<uint> state = stackalloc uint[4 * Md5Lanes.Lanes];
        for (var length = 0; length < 128; length++)
        {
            var data = TestData.Bytes(length, length);
            Md5Lanes.Initialize(state, 3);
            var full = length / 64 * 64;
            if (full > 0 && Md5Lanes.IsSupported)
            {
                Compress(state, [(3, data[..full])], 1);
            }
            else if (full > 0)
            {
                continue;
            }

            Assert.Equal(MD5.HashData(data), Md5Lanes.Finish(state, 3, data.AsSpan(full), length));
        }
    }

    [SkippableFact]
    public void Compress_SixteenMessagesOfDifferentLengths_EachMatchesMd5()
    {
        Skip.IfNot(Md5Lanes.IsSupported, "This CPU has no AVX-512F: the store hashes one object per core instead (covered by the download tests).");

        var messages = Enumerable.Range(0, Md5Lanes.Lanes).Select(i => TestData.Bytes((i * 977) + (64 * 40) + i, 100 + i)).ToArray();
        Span<uint> state = stackalloc uint[4 * Md5Lanes.Lanes];
        for (var lane = 0; lane < Md5Lanes.Lanes; lane++)
        {
            Md5Lanes.Initialize(state, lane);
        }

        // Advance the lanes unevenly, as the verifier does: some lanes sit out some rounds.
        var offsets = new int[Md5Lanes.Lanes];
        var round = 0;
        while (true)
        {
            var batch = new List<(int Lane, byte[] Data)>();
            for (var lane = 0; lane < Md5Lanes.Lanes; lane++)
            {
                var blocksLeft = (messages[lane].Length - offsets[lane]) / 64;
                if (blocksLeft > 0 && (lane + round) % 3 != 0)
                {
                    batch.Add((lane, messages[lane][offsets[lane]..]));
                }
            }

            if (batch.Count == 0 && Enumerable.Range(0, Md5Lanes.Lanes).All(l => (messages[l].Length - offsets[l]) / 64 == 0))
            {
                break;
            }

            if (batch.Count > 0)
            {
                var blocks = Math.Min(7, batch.Min(b => b.Data.Length / 64));
                Compress(state, batch, blocks);
                foreach (var (lane, _) in batch)
                {
                    offsets[lane] += blocks * 64;
                }
            }

            round++;
        }

        for (var lane = 0; lane < Md5Lanes.Lanes; lane++)
        {
            Assert.Equal(MD5.HashData(messages[lane]), Md5Lanes.Finish(state, lane, messages[lane].AsSpan(offsets[lane]), messages[lane].Length));
        }
    }

    private static unsafe void Compress(Span<uint> state, IReadOnlyList<(int Lane, byte[] Data)> batch, int blocks)
    {
        var handles = batch.Select(b => GCHandle.Alloc(b.Data, GCHandleType.Pinned)).ToList();
        try
        {
            var pointers = new IntPtr[Md5Lanes.Lanes];
            var active = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                pointers[batch[i].Lane] = handles[i].AddrOfPinnedObject();
                active |= 1 << batch[i].Lane;
            }

            Md5Lanes.Compress(state, pointers, blocks, active);
        }
        finally
        {
            handles.ForEach(h => h.Free());
        }
    }
}
