using Trainyard.DataPlane;
using Trainyard.DataPlane.FastFile;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.Tests.DataPlane.FastFile;

public sealed class FileTreeTests
{
    private static ChannelObject Object(string relative, long size = 1, int minute = 0) =>
        new(new ObjectInfo(new S3Location("b", "p/" + relative), size, new DateTimeOffset(2024, 5, 6, 7, minute, 0, TimeSpan.Zero)), relative);

    [Fact]
    public void Build_NestedKeys_DirectoriesWithChildrenInKeyOrderAndNewestTimes()
    {
        var tree = FileTree.Build([Object("a/x.csv", 3, 1), Object("a/y/z.csv", 4, 9), Object("top.bin", 5, 2)]);
        Assert.Equal(3, tree.FileCount);
        Assert.Equal(12, tree.TotalBytes);
        var root = tree[0];
        Assert.Equal(["a", "top.bin"], root.Order!.Select(i => tree[i].Name));
        var a = tree[root.Children!["a"]];
        Assert.True(a.IsDirectory);
        Assert.Equal(["x.csv", "y"], a.Order!.Select(i => tree[i].Name));
        Assert.Equal(9, a.LastModified.Minute);
        Assert.Equal(9, root.LastModified.Minute);
        Assert.True(tree.TryGet(1, out var again) && again == root);
        Assert.False(tree.TryGet(0, out _));
        Assert.False(tree.TryGet((ulong)tree.Count + 1, out _));
    }

    [Fact]
    public void Build_KeyThatIsBothFileAndDirectory_KeepsTheFirstAndReportsTheOther()
    {
        var tree = FileTree.Build([Object("a"), Object("a/b"), Object("c/d"), Object("c")]);
        Assert.Equal(["a/b", "c"], tree.Skipped);
        Assert.Equal(2, tree.FileCount);
    }

    [Fact]
    public void Build_PathEscapingTheMount_IsRefused()
    {
        Assert.Throws<DataPlaneException>(() => FileTree.Build([Object("../etc/passwd")]));
    }

    [Fact]
    public async Task BlockCache_OverCapacity_EvictsTheLeastRecentlyUsedAndRefetchesFailures()
    {
        var pool = new BlockPool(1, 10);
        var cache = new BlockCache(capacityBytes: 2);
        var fetches = 0;
        Task<Block> Fetch(byte value)
        {
            Interlocked.Increment(ref fetches);
            return Task.FromResult(new Block([value], 1, pool));
        }

        await cache.GetOrAdd(1, 0, 1, () => Fetch(10));
        await cache.GetOrAdd(1, 1, 1, () => Fetch(11));
        Assert.True(cache.TryAcquireCompleted(1, 0, out var zero)); // 0 is now the most recent
        await cache.GetOrAdd(1, 2, 1, () => Fetch(12)); // evicts 1
        Assert.True(cache.Contains(1, 0));
        Assert.False(cache.Contains(1, 1));
        Assert.Equal(3, fetches);

        await cache.GetOrAdd(1, 3, 1, () => Fetch(13)); // evicts 0, which a reader still holds
        Assert.Equal(10, zero.Data[0]);
        Assert.True(zero.TryAddReference());
        zero.Release();
        zero.Release(); // the reader's last reference: back to the pool, and no more references
        Assert.False(zero.TryAddReference());
        Assert.Same(zero.Data, pool.Rent());

        await Assert.ThrowsAsync<IOException>(() => cache.GetOrAdd(2, 0, 1, () => Task.FromException<Block>(new IOException("gone"))));
        Assert.False(cache.Contains(2, 0));
        Assert.Equal(7, (await cache.GetOrAdd(2, 0, 1, () => Task.FromResult(new Block([7], 1, pool)))).Data[0]);
    }
}
