using Trainyard.Storage;

namespace Trainyard.S3.Tests;

[Collection(S3rverCollection.Name)]
public sealed class S3ObjectStoreTests(S3rverFixture s3)
{
    [Fact]
    public async Task ListAsync_MoreThanOnePage_ReturnsEveryKeyInKeyOrder()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var keys = Enumerable.Range(0, 1234).Select(i => $"data/part-{i:x5}.bin").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, ct) =>
            await store.UploadAsync(new S3Location(bucket, key), (s, c) => s.WriteAsync(new byte[] { 1, 2, 3 }, c).AsTask(), ct));
        await store.UploadAsync(new S3Location(bucket, "other/x"), (s, c) => Task.CompletedTask, default);

        var listed = await store.ListAsync(new S3Location(bucket, "data/"), default).ToListAsync();

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Select(o => o.Location.Key));
        Assert.All(listed, o => Assert.Equal(3, o.Size));
        var awsCount = (await s3.AwsAsync("s3", "ls", "--recursive", $"s3://{bucket}/data/")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.Equal(1234, awsCount);
    }

    [Fact]
    public async Task OpenReadAsync_Range_ReturnsExactlyThoseBytes()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var data = TestData.Bytes(100_000, 1);
        var location = new S3Location(bucket, "r.bin");
        await store.UploadAsync(location, (s, ct) => s.WriteAsync(data, ct).AsTask(), default);

        Assert.Equal(data[1000..6000], await ReadAll(await store.OpenReadAsync(location, 1000, 5000, default)));
        Assert.Equal(data[99_000..], await ReadAll(await store.OpenReadAsync(location, 99_000, null, default)));
        Assert.Equal(data, await ReadAll(await store.OpenReadAsync(location, 0, null, default)));
    }

    [Fact]
    public async Task HeadAsync_ExistingAndMissing_ReturnsInfoOrNull()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "h.txt");
        await store.UploadAsync(location, (s, ct) => s.WriteAsync("hello"u8.ToArray(), ct).AsTask(), default);

        var info = await store.HeadAsync(location, default);

        Assert.NotNull(info);
        Assert.Equal(5, info.Size);
        Assert.Equal("5d41402abc4b2a76b9719d911017c592", info.ETag);
        Assert.Null(await store.HeadAsync(new S3Location(bucket, "missing"), default));
    }

    [Fact]
    public async Task DeleteAsync_RemovesObject_AndIgnoresMissing()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "d.txt");
        await store.UploadAsync(location, (s, ct) => s.WriteAsync(new byte[10], ct).AsTask(), default);

        await store.DeleteAsync(location, default);
        await store.DeleteAsync(location, default);

        Assert.Null(await store.HeadAsync(location, default));
    }

    [Fact]
    public async Task AnyAsync_AnswersFromOneKey_ForPrefixesWithAndWithoutObjects()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        foreach (var key in new[] { "train/a.csv", "train/b.csv", "trainer.txt" })
        {
            await store.UploadAsync(new S3Location(bucket, key), (s, ct) => s.WriteAsync(new byte[] { 7 }, ct).AsTask(), default);
        }

        Assert.True(await store.AnyAsync(new S3Location(bucket, "train/"), default));
        Assert.True(await store.AnyAsync(new S3Location(bucket, "trainer"), default));
        Assert.True(await store.AnyAsync(new S3Location(bucket, ""), default));
        Assert.False(await store.AnyAsync(new S3Location(bucket, "validation/"), default));
        Assert.False(await store.AnyAsync(new S3Location(bucket, "train/c"), default));
        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.AnyAsync(S3Location.Parse("s3://no-such-bucket-here/x/"), default));
        Assert.Contains("NoSuchBucket", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListAsync_UnknownBucket_ThrowsNamingUriAndNoSuchBucket()
    {
        using var store = s3.CreateStore();

        var e = await Assert.ThrowsAsync<ObjectStoreException>(async () => await store.ListAsync(S3Location.Parse("s3://no-such-bucket-here/x/"), default).ToListAsync());

        Assert.Contains("s3://no-such-bucket-here/x/", e.Message, StringComparison.Ordinal);
        Assert.Contains("NoSuchBucket", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DownloadAsync_UnknownBucket_ThrowsNamingUriAndNoSuchBucket()
    {
        using var store = s3.CreateStore();
        var dir = TestData.TempDir();
        var source = new ObjectInfo(S3Location.Parse("s3://no-such-bucket-here/k.bin"), 10, default);

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.DownloadAsync(source, Path.Combine(dir, "k.bin"), null, default));

        Assert.Contains("s3://no-such-bucket-here/k.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("NoSuchBucket", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "k.bin")));
    }

    [Fact]
    public async Task ListAsync_WrongCredentials_ThrowsNamingUriAndInvalidAccessKeyId()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore(o => o.Credentials = new Amazon.Runtime.BasicAWSCredentials("WRONG", "WRONG"));

        var e = await Assert.ThrowsAsync<ObjectStoreException>(async () => await store.ListAsync(new S3Location(bucket, ""), default).ToListAsync());

        Assert.Contains($"s3://{bucket}/", e.Message, StringComparison.Ordinal);
        Assert.Contains("InvalidAccessKeyId", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeadAsync_WrongEndpoint_ThrowsCannotReach()
    {
        var closed = new Uri($"http://127.0.0.1:{S3rverFixture.FreePort()}");
        using var store = s3.CreateStore(o => o.MaxRetries = 1, closed);

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() => store.HeadAsync(S3Location.Parse("s3://b/k"), default));

        Assert.Contains("s3://b/k", e.Message, StringComparison.Ordinal);
        Assert.Contains("cannot reach the S3 endpoint " + closed.GetLeftPart(UriPartial.Authority), e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", e.Message, StringComparison.Ordinal);
    }

    private static async Task<byte[]> ReadAll(Stream stream)
    {
        await using (stream)
        {
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            return copy.ToArray();
        }
    }
}
