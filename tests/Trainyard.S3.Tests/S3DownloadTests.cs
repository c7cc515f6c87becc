using Trainyard.Storage;

namespace Trainyard.S3.Tests;

[Collection(S3rverCollection.Name)]
public sealed class S3DownloadTests(S3rverFixture s3)
{
    [Fact]
    public async Task DownloadAsync_LargeObject_ParallelRangesAreByteExact()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        var local = Path.Combine(dir, "big.bin");
        await File.WriteAllBytesAsync(local, TestData.Bytes(64 * 1024 * 1024 + 12_345, 7));
        await s3.AwsAsync("s3", "cp", local, $"s3://{bucket}/big.bin");
        using var store = s3.CreateStore();
        var source = Assert.Single(await store.ListAsync(new S3Location(bucket, "big.bin"), default).ToListAsync());
        long reported = 0;

        await store.DownloadAsync(source, Path.Combine(dir, "out", "big.bin"), new SyncProgress(n => Interlocked.Add(ref reported, n)), default);

        Assert.Equal(TestData.Sha256(local), TestData.Sha256(Path.Combine(dir, "out", "big.bin")));
        Assert.Equal(source.Size, Interlocked.Read(ref reported));
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task DownloadManyAsync_EqualObjectsAnnouncedTogether_OneGetEachUntilTheBatchDrains_WhileALoneObjectIsCutIntoRanges()
    {
        // PartSize is 5 MiB, so each 6 MiB object could go as two ranges, and with four downloads at a time
        // over eight request slots each one's share of the slots is two: every object would be cut up.
        // Announced together (the downloader plans the batch), the sixteen share the slots by the bytes still to
        // come instead: 8 × 6 / 96 MiB, less than one slot each, and one GET each — until the batch has drained
        // to its last four objects (24 MiB for 8 slots): an object that starts then is cut in two so the slots
        // the finished ones left do not sit idle. Which objects start that late depends on how the downloads
        // finish: the sixteenth always does (only it and at most three others are left), the thirteenth to
        // fifteenth may (if the ones before them all finished first), the first twelve never can (at least
        // five objects are unfinished when each starts). Without the plan all sixteen are cut. The same object
        // downloaded alone is cut up.
        const int size = 6 * 1024 * 1024;
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        using (var seeder = s3.CreateStore())
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, 16), async (i, ct) =>
            {
                var data = TestData.Bytes(size, 70 + i);
                await seeder.UploadAsync(new S3Location(bucket, $"e{i:d2}.bin"), (st, c) => st.WriteAsync(data, c).AsTask(), ct);
            });
        }

        using var store = s3.CreateStore();
        var listed = await store.ListAsync(new S3Location(bucket, ""), default).ToListAsync();

        await ParallelDownloader.DownloadManyAsync(store, listed.Select(o => (o, Path.Combine(dir, o.Location.Key))).ToList(), 4, null, default);

        var split = store.SplitDownloads;
        Assert.InRange(split, 1, 4);
        for (var i = 0; i < 16; i++)
        {
            Assert.Equal(TestData.Sha256(TestData.Bytes(size, 70 + i)), TestData.Sha256(Path.Combine(dir, $"e{i:d2}.bin")));
        }

        await store.DownloadAsync(listed[0], Path.Combine(dir, "alone.bin"), null, default);

        Assert.Equal(split + 1, store.SplitDownloads);
        Assert.Equal(TestData.Sha256(Path.Combine(dir, "e00.bin")), TestData.Sha256(Path.Combine(dir, "alone.bin")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task DownloadAsync_SinglePartObjectInRanges_ChecksMd5AndIsByteExact()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        var local = Path.Combine(dir, "one.bin");
        await File.WriteAllBytesAsync(local, TestData.Bytes(17 * 1024 * 1024, 8));
        await s3.AwsAsync("s3api", "put-object", "--bucket", bucket, "--key", "one.bin", "--body", local);
        using var store = s3.CreateStore();
        var source = (await store.HeadAsync(new S3Location(bucket, "one.bin"), default))!;
        Assert.True(S3ObjectStore.IsMd5ETag(source.ETag));

        await store.DownloadAsync(source, Path.Combine(dir, "copy.bin"), null, default);

        Assert.Equal(TestData.Sha256(local), TestData.Sha256(Path.Combine(dir, "copy.bin")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task DownloadManyAsync_AwkwardSizesAtOnce_AllMd5CheckedAndByteExact()
    {
        // Sizes around MD5's 64-byte block and padding edges, chunk edges, and objects large enough to go in
        // ranges (PartSize is 5 MiB here): all downloaded at once, so the verifier's lanes fill and refill.
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        int[] sizes = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 4095, 65535, 65536, 65537, 262_143, 1_048_579, 6 * 1024 * 1024, (11 * 1024 * 1024) + 5];
        using var store = s3.CreateStore();
        var expected = new Dictionary<string, string>();
        await Parallel.ForEachAsync(sizes.Select((size, i) => (size, i)), async (x, ct) =>
        {
            var data = TestData.Bytes(x.size, 50 + x.i);
            lock (expected)
            {
                expected[$"o{x.i:d2}.bin"] = TestData.Sha256(data);
            }

            await store.UploadAsync(new S3Location(bucket, $"o{x.i:d2}.bin"), (s, c) => s.WriteAsync(data, c).AsTask(), ct);
        });
        var listed = await store.ListAsync(new S3Location(bucket, ""), default).ToListAsync();
        Assert.All(listed, o => Assert.True(S3ObjectStore.IsMd5ETag(o.ETag), $"{o.Location} has ETag {o.ETag}"));

        await ParallelDownloader.DownloadManyAsync(store, listed.Select(o => (o, Path.Combine(dir, o.Location.Key))).ToList(), 16, null, default);

        Assert.Equal(expected.Count, Directory.GetFiles(dir).Length);
        foreach (var (name, sha) in expected)
        {
            Assert.Equal(sha, TestData.Sha256(Path.Combine(dir, name)));
        }

        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task DownloadAsync_RangedObjectWithAWrongETag_FailsNamingItWhileOthersSucceed()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        using var store = s3.CreateStore();
        for (var i = 0; i < 6; i++)
        {
            var data = TestData.Bytes(i == 0 ? 12 * 1024 * 1024 : 300_000, 70 + i);
            await store.UploadAsync(new S3Location(bucket, $"f{i}.bin"), (s, c) => s.WriteAsync(data, c).AsTask(), default);
        }

        var listed = await store.ListAsync(new S3Location(bucket, ""), default).ToListAsync();
        // Alone, the 12 MiB object is fetched in three ranges; claim it has another object's MD5.
        var wrong = listed[0] with { ETag = listed[1].ETag };
        var others = store.DownloadAsync(listed[1], Path.Combine(dir, "f1.bin"), null, default);

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.DownloadAsync(wrong, Path.Combine(dir, "f0.bin"), null, default));
        await others;
        await ParallelDownloader.DownloadManyAsync(store, listed.Skip(2).Select(o => (o, Path.Combine(dir, o.Location.Key))).ToList(), 16, null, default);

        Assert.Contains("f0.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("MD5", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "f0.bin")));
        Assert.Equal(5, Directory.GetFiles(dir).Length);
    }

    [Fact]
    public async Task DownloadAsync_ETagMismatch_FailsAndLeavesNoFile()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "x.bin");
        await store.UploadAsync(location, (s, ct) => s.WriteAsync(TestData.Bytes(1000, 3), ct).AsTask(), default);
        var listed = (await store.HeadAsync(location, default))!;
        var wrong = listed with { ETag = new string('0', 32) };

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.DownloadAsync(wrong, Path.Combine(dir, "x.bin"), null, default));

        Assert.Contains("MD5", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "x.bin")));
    }

    [Fact]
    public async Task DownloadManyAsync_ManySmallObjects_AllByteExact()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        var src = Path.Combine(dir, "src");
        for (var i = 0; i < 300; i++)
        {
            var path = Path.Combine(src, $"d{i % 7}", $"f{i:d4}.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, TestData.Bytes(i * 997 % 200_000, i));
        }

        await s3.AwsAsync("s3", "sync", src, $"s3://{bucket}/ch/");
        using var store = s3.CreateStore();
        var listed = await store.ListAsync(new S3Location(bucket, "ch/"), default).ToListAsync();
        Assert.Equal(300, listed.Count);
        var dst = Path.Combine(dir, "dst");
        var items = listed.Select(o => (o, Path.Combine(dst, o.Location.Key["ch/".Length..]))).ToList();

        var total = await ParallelDownloader.DownloadManyAsync(store, items, 16, null, default);

        Assert.Equal(listed.Sum(o => o.Size), total);
        foreach (var file in Directory.EnumerateFiles(src, "*", SearchOption.AllDirectories))
        {
            Assert.Equal(TestData.Sha256(file), TestData.Sha256(Path.Combine(dst, Path.GetRelativePath(src, file))));
        }

        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task DownloadAsync_ObjectDeletedAfterListing_ThrowsNoSuchKeyNamingUri()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "gone/obj.bin");
        await store.UploadAsync(location, (s, ct) => s.WriteAsync(new byte[1234], ct).AsTask(), default);
        var listed = Assert.Single(await store.ListAsync(new S3Location(bucket, "gone/"), default).ToListAsync());
        await s3.AwsAsync("s3", "rm", $"s3://{bucket}/gone/obj.bin");

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.DownloadAsync(listed, Path.Combine(dir, "obj.bin"), null, default));

        Assert.Contains($"s3://{bucket}/gone/obj.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("NoSuchKey", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "obj.bin")));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task DownloadAsync_ConnectionsDroppedMidBody_RetriesAndIsByteExact(bool directHttp)
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        var local = Path.Combine(dir, "flaky.bin");
        await File.WriteAllBytesAsync(local, TestData.Bytes(24 * 1024 * 1024 + 100, 9));
        await s3.AwsAsync("s3", "cp", local, $"s3://{bucket}/flaky.bin");
        await using var proxy = new FlakyProxy(s3.Endpoint, dropEvery: 2, dropAfterBytes: 1_500_000);
        using var store = s3.CreateStore(o => { o.DirectHttpDownloads = directHttp; o.MaxRetries = 10; }, proxy.Endpoint);
        var source = (await store.HeadAsync(new S3Location(bucket, "flaky.bin"), default))!;

        await store.DownloadAsync(source, Path.Combine(dir, "got.bin"), null, default);

        Assert.True(proxy.Dropped > 0, "the proxy dropped no connection, so the test proved nothing");
        Assert.Equal(TestData.Sha256(local), TestData.Sha256(Path.Combine(dir, "got.bin")));
        Directory.Delete(dir, true);
    }

    /// <summary>Reports on the calling thread: <see cref="Progress{T}"/> posts to the pool and may run after the download returns.</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
