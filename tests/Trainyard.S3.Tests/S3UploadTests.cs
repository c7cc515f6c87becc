using System.IO.Compression;
using System.Formats.Tar;
using Trainyard.Storage;

namespace Trainyard.S3.Tests;

[Collection(S3rverCollection.Name)]
public sealed class S3UploadTests(S3rverFixture s3)
{
    [Fact]
    public async Task UploadAsync_StreamLargerThanSeveralParts_IsMultipartAndAwsReadsItBack()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        var data = TestData.Bytes(23 * 1024 * 1024 + 777, 11);
        using var store = s3.CreateStore(o => o.Concurrency = 3);
        var location = new S3Location(bucket, "model/model.bin");

        var written = await store.UploadAsync(location, async (stream, ct) =>
        {
            // Odd-sized writes, so parts fill across write boundaries.
            var random = new Random(5);
            for (var offset = 0; offset < data.Length;)
            {
                var n = Math.Min(random.Next(1, 3_000_000), data.Length - offset);
                await stream.WriteAsync(data.AsMemory(offset, n), ct);
                offset += n;
            }
        }, default);

        Assert.Equal(data.Length, written);
        Assert.Equal(5, store.MultipartPartsUploaded);
        await s3.AwsAsync("s3", "cp", $"s3://{bucket}/model/model.bin", Path.Combine(dir, "back.bin"));
        Assert.Equal(TestData.Sha256(data), TestData.Sha256(Path.Combine(dir, "back.bin")));
        Directory.Delete(dir, true);
    }

    [Fact]
    public async Task UploadAsync_SmallPayload_IsOnePutWithMd5ETag()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "small.txt");

        var written = await store.UploadAsync(location, (s, ct) => s.WriteAsync("hello"u8.ToArray(), ct).AsTask(), default);

        Assert.Equal(5, written);
        Assert.Equal("5d41402abc4b2a76b9719d911017c592", (await store.HeadAsync(location, default))!.ETag);
        Assert.Equal(0, store.MultipartPartsUploaded);
        Assert.Equal("hello", await s3.AwsAsync("s3", "cp", $"s3://{bucket}/small.txt", "-"));
    }

    [Fact]
    public async Task UploadAsync_Empty_CreatesEmptyObject()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "empty");

        Assert.Equal(0, await store.UploadAsync(location, (_, _) => Task.CompletedTask, default));

        Assert.Equal(0, (await store.HeadAsync(location, default))!.Size);
    }

    [Fact]
    public async Task UploadAsync_WriterThrowsMidway_LeavesNoObject()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "broken.bin");

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => store.UploadAsync(location, async (stream, ct) =>
        {
            await stream.WriteAsync(TestData.Bytes(12 * 1024 * 1024, 1), ct);
            throw new InvalidOperationException("the writer broke");
        }, default));

        Assert.Equal("the writer broke", e.Message);
        Assert.Null(await store.HeadAsync(location, default));
        Assert.Empty(await store.ListAsync(new S3Location(bucket, ""), default).ToListAsync());
    }

    [Fact]
    public async Task UploadAsync_Cancelled_LeavesNoObject()
    {
        var bucket = await s3.NewBucketAsync();
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "cancelled.bin");
        using var cts = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.UploadAsync(location, async (stream, ct) =>
        {
            await stream.WriteAsync(TestData.Bytes(11 * 1024 * 1024, 2), ct);
            await cts.CancelAsync();
            await stream.WriteAsync(TestData.Bytes(6 * 1024 * 1024, 3), ct);
        }, cts.Token));

        Assert.Null(await store.HeadAsync(location, default));
    }

    [Fact]
    public async Task UploadAsync_UnknownBucket_ThrowsNamingUriAndNoSuchBucket()
    {
        using var store = s3.CreateStore();

        var e = await Assert.ThrowsAsync<ObjectStoreException>(() =>
            store.UploadAsync(S3Location.Parse("s3://no-such-bucket-up/a/b.bin"), (s, ct) => s.WriteAsync(new byte[100], ct).AsTask(), default));

        Assert.Contains("s3://no-such-bucket-up/a/b.bin", e.Message, StringComparison.Ordinal);
        Assert.Contains("NoSuchBucket", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UploadAsync_ParallelGzipTarOfDirectory_IsAValidTarGzForAwsAndTar()
    {
        var bucket = await s3.NewBucketAsync();
        var dir = TestData.TempDir();
        var model = Path.Combine(dir, "model");
        Directory.CreateDirectory(Path.Combine(model, "sub"));
        await File.WriteAllBytesAsync(Path.Combine(model, "weights.bin"), TestData.Bytes(9 * 1024 * 1024, 4));
        await File.WriteAllTextAsync(Path.Combine(model, "sub", "config.json"), string.Concat(Enumerable.Repeat("{\"a\": 1}\n", 100_000)));
        using var store = s3.CreateStore();
        var location = new S3Location(bucket, "job/output/model.tar.gz");

        await store.UploadAsync(location, async (stream, ct) =>
        {
            await using var gzip = new ParallelGzipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
            await TarFile.CreateFromDirectoryAsync(model, gzip, includeBaseDirectory: false, ct);
        }, default);

        var archive = Path.Combine(dir, "model.tar.gz");
        await s3.AwsAsync("s3", "cp", location.ToString(), archive);
        var (code, listing, err) = await S3rverFixture.Run("tar", ["tzf", archive]);
        Assert.True(code == 0, err);
        Assert.Equal(["sub/", "sub/config.json", "weights.bin"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimStart('.', '/')).Where(l => l.Length > 0).Order(StringComparer.Ordinal));
        var extracted = Path.Combine(dir, "x");
        Directory.CreateDirectory(extracted);
        Assert.Equal(0, (await S3rverFixture.Run("tar", ["xzf", archive, "-C", extracted])).Code);
        Assert.Equal(TestData.Sha256(Path.Combine(model, "weights.bin")), TestData.Sha256(Path.Combine(extracted, "weights.bin")));
        Directory.Delete(dir, true);
    }
}
