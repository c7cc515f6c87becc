using System.Buffers;
using Trainyard.Storage;

namespace Trainyard.Tests.Storage;

public sealed class BlockBufferingStreamTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(8 * 5 + 3)]
    public void Write_AnySplit_HandsOffFullBlocksInOrderAndBuffersTheRest(int length)
    {
        var data = Enumerable.Range(0, length).Select(i => (byte)i).ToArray();
        using var stream = new Collecting(blockSize: 8);

        var random = new Random(length);
        for (var offset = 0; offset < data.Length;)
        {
            var n = Math.Min(random.Next(1, 20), data.Length - offset);
            stream.Write(data, offset, n);
            offset += n;
        }

        Assert.All(stream.Blocks, b => Assert.Equal(8, b.Length));
        Assert.Equal(length / 8, stream.Blocks.Count);
        Assert.Equal(data, stream.Blocks.SelectMany(b => b).Concat(stream.BufferedBytes).ToArray());
        Assert.Equal(length, stream.Length);
        Assert.Equal(length, stream.Position);
    }

    [Fact]
    public async Task WriteAsync_LargeWrite_HandsOffEveryBlockThroughTheAsyncHook()
    {
        var data = Enumerable.Range(0, 8 * 3 + 1).Select(i => (byte)i).ToArray();
        using var stream = new Collecting(blockSize: 8);

        await stream.WriteAsync(data);

        Assert.Equal(3, stream.AsyncHandOffs);
        Assert.Equal(data, stream.Blocks.SelectMany(b => b).Concat(stream.BufferedBytes).ToArray());
    }

    [Fact]
    public void Write_HookKeepsTheBlock_OffersItAgainOnTheNextWrite()
    {
        using var stream = new Collecting(blockSize: 4) { Refuse = 1 };

        Assert.Throws<IOException>(() => stream.Write([1, 2, 3, 4, 5]));
        stream.Write([6]);

        Assert.Equal([[1, 2, 3, 4]], stream.Blocks);
        Assert.Equal([6], stream.BufferedBytes);
        Assert.Equal(5, stream.Length); // the 5 that followed the refused hand-off was never taken
    }

    [Fact]
    public void Write_AfterFinished_ThrowsObjectDisposed()
    {
        using var stream = new Collecting(blockSize: 4);
        stream.Finish();

        Assert.False(stream.CanWrite);
        Assert.Throws<ObjectDisposedException>(() => stream.Write([1]));
    }

    [Fact]
    public void Blocks_ComeFromAndGoBackToTheGivenPool()
    {
        var pool = new CountingPool();
        using (var stream = new Collecting(blockSize: 4, pool))
        {
            stream.Write([1, 2, 3, 4, 5, 6, 7, 8, 9]);
            stream.Finish();
        }

        Assert.Equal(3, pool.Rented);
        Assert.Equal(3, pool.Returned);
    }

    private sealed class Collecting(int blockSize, ArrayPool<byte>? pool = null) : BlockBufferingStream(blockSize, pool)
    {
        public List<byte[]> Blocks { get; } = [];
        public int AsyncHandOffs { get; private set; }
        public int Refuse { get; set; }
        public byte[] BufferedBytes => [.. Buffered];

        public void Finish()
        {
            Finished = true;
            ReturnBlock();
        }

        public override void Flush()
        {
        }

        protected override void OnBlockFull()
        {
            if (Refuse-- > 0)
            {
                throw new IOException("refused");
            }

            var (block, length) = TakeBlock();
            Blocks.Add(block[..length]);
            ReturnToPool(block);
        }

        protected override ValueTask OnBlockFullAsync(CancellationToken cancellationToken)
        {
            AsyncHandOffs++;
            OnBlockFull();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class CountingPool : ArrayPool<byte>
    {
        public int Rented { get; private set; }
        public int Returned { get; private set; }

        public override byte[] Rent(int minimumLength)
        {
            Rented++;
            return new byte[minimumLength];
        }

        public override void Return(byte[] array, bool clearArray = false) => Returned++;
    }
}
