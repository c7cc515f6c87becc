using System.Text;
using Trainyard.DataPlane.Pipe;
using Trainyard.Interop;
using Trainyard.Storage;

namespace Trainyard.Tests.DataPlane.Pipe;

public class PipeChannelTests
{
    private static PipeChannelOptions Options(string compression = "None", string wrapper = "None", long? seed = null, string dataType = "S3Prefix", IReadOnlyList<string>? attributes = null) =>
        new("train", compression, wrapper, seed, dataType, attributes);

    private static byte[] Content(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task RunAsync_ThreeEpochs_StreamsObjectsInKeyOrderEachEpoch()
    {
        await using var bed = new PipeTestBed();
        byte[][] contents = [Content(1, 1000), [], Content(2, (3 << 20) + 17), Content(3, 5)];
        var objects = contents.Select((c, i) => bed.Put($"train/part-{i}", c)).ToList();
        bed.Start(objects, Options());

        for (var epoch = 0; epoch < 3; epoch++)
        {
            Assert.Equal(contents.SelectMany(c => c).ToArray(), await bed.ReadEpochAsync("train", epoch));
            Assert.False(File.Exists(bed.Fifo("train", epoch)));
        }

        await bed.StopAsync();
        Assert.Empty(Directory.GetFileSystemEntries(bed.DataDir));
    }

    [Fact]
    public async Task RunAsync_PipeBuffer_IsOneMebibyte()
    {
        await using var bed = new PipeTestBed();
        bed.Start([bed.Put("a", Content(1, 100))], Options());

        await using var fifo = await bed.OpenAsync("train", 0);
        Assert.NotEqual(-1, fifo.ReadByte()); // the writer sizes the pipe before its first write
        var maxSize = int.Parse(File.ReadAllText("/proc/sys/fs/pipe-max-size").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        var size = Libc.Fcntl((int)fifo.SafeFileHandle.DangerousGetHandle(), Libc.F_GETPIPE_SZ, 0);
        Assert.True(maxSize < PipeChannel.PipeBufferSize || size == PipeChannel.PipeBufferSize, $"pipe buffer {size}, pipe-max-size {maxSize}");
    }

    [Fact]
    public async Task RunAsync_NextEpochFifo_ExistsWhenReaderSeesEof()
    {
        await using var bed = new PipeTestBed();
        bed.Start([bed.Put("a", Content(1, 100))], Options());

        await bed.ReadEpochAsync("train", 0);

        Assert.True(File.Exists(bed.Fifo("train", 1)));
    }

    [Fact]
    public async Task RunAsync_ShuffleSeed_OrderPerEpochFollowsDeterministicShuffle()
    {
        await using var bed = new PipeTestBed();
        var contents = Enumerable.Range(0, 12).Select(i => Content(i, 100 + i)).ToArray();
        var objects = contents.Select((c, i) => bed.Put($"k{i:D2}", c)).ToList();
        bed.Start(objects, Options(seed: 7));

        var epochs = new List<byte[]>();
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var order = DeterministicShuffle.Shuffle(Enumerable.Range(0, contents.Length).ToArray(), 7, epoch);
            var expected = order.SelectMany(i => contents[i]).ToArray();
            var actual = await bed.ReadEpochAsync("train", epoch);
            Assert.Equal(expected, actual);
            epochs.Add(actual);
        }

        Assert.NotEqual(epochs[0], epochs[1]);
        Assert.NotEqual(contents.SelectMany(c => c).ToArray(), epochs[0]);
    }

    [Fact]
    public async Task RunAsync_ShardedAndShuffled_HostsSplitEachEpochDifferently()
    {
        await using var bed = new PipeTestBed();
        var contents = Enumerable.Range(0, 10).Select(i => Content(100 + i, 64 + i)).ToArray();
        var objects = contents.Select((c, i) => bed.Put($"k{i:D2}", c)).ToList();
        bed.Start(objects, Options(seed: 9) with { ChannelName = "h0", Shard = new PipeShard(0, 2) });
        using var stop = new CancellationTokenSource();
        var host1 = PipeChannel.RunAsync(bed.Store, objects, bed.DataDir, Options(seed: 9) with { ChannelName = "h1", Shard = new PipeShard(1, 2) }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stop.Token);

        var shares = new List<int[]>();
        for (var epoch = 0; epoch < 3; epoch++)
        {
            var order = DeterministicShuffle.Shuffle(Enumerable.Range(0, 10).ToArray(), 9, epoch);
            int[] share0 = [.. order.Where((_, i) => i % 2 == 0)];
            int[] share1 = [.. order.Where((_, i) => i % 2 == 1)];
            Assert.Equal(share0.SelectMany(i => contents[i]).ToArray(), await bed.ReadEpochAsync("h0", epoch));
            Assert.Equal(share1.SelectMany(i => contents[i]).ToArray(), await bed.ReadEpochAsync("h1", epoch));
            Assert.Equal(Enumerable.Range(0, 10), share0.Concat(share1).Order());
            shares.Add([.. share0.Order()]);
        }

        Assert.True(shares.Distinct(new SequenceComparer()).Count() > 1, "some object should move between hosts across epochs");
        await stop.CancelAsync();
        await host1.WaitAsync(bed.Timeout);
    }

    private sealed class SequenceComparer : IEqualityComparer<int[]>
    {
        public bool Equals(int[]? x, int[]? y) => x!.SequenceEqual(y!);

        public int GetHashCode(int[] obj) => obj.Sum();
    }

    [Fact]
    public async Task RunAsync_Gzip_DecompressesOnTheFly()
    {
        await using var bed = new PipeTestBed();
        byte[][] contents = [Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("hello pipe ", 50000))), Content(4, 70000)];
        var objects = contents.Select((c, i) => bed.Put($"z{i}.gz", c, gzip: true)).ToList();
        bed.Start(objects, Options(compression: "Gzip"));

        Assert.Equal(contents.SelectMany(c => c).ToArray(), await bed.ReadEpochAsync("train", 0));
        Assert.Equal(contents.SelectMany(c => c).ToArray(), await bed.ReadEpochAsync("train", 1));
    }

    [Fact]
    public async Task RunAsync_RecordIO_OneRecordPerObjectMatchingDmlc()
    {
        await using var bed = new PipeTestBed();
        var random = new Random(5);
        byte[][] contents = [RecordIOTests.RandomPayload(random, 1001), [], RecordIOTests.RandomPayload(random, RecordIOWriter.InMemoryLimit + 12345)];
        var objects = contents.Select((c, i) => bed.Put($"r{i}", c)).ToList();
        bed.Start(objects, Options(wrapper: "RecordIO"));

        var expected = contents.SelectMany(RecordIOTests.EncodeReference).ToArray();
        for (var epoch = 0; epoch < 2; epoch++)
        {
            var bytes = await bed.ReadEpochAsync("train", epoch);
            Assert.Equal(expected, bytes);
            var reader = new RecordIOReader(new MemoryStream(bytes));
            foreach (var content in contents)
            {
                Assert.Equal(content, await reader.ReadRecordAsync(bed.Timeout));
            }

            Assert.Null(await reader.ReadRecordAsync(bed.Timeout));
        }
    }

    [Fact]
    public async Task RunAsync_GzipRecordIO_WrapsDecompressedContent()
    {
        await using var bed = new PipeTestBed();
        byte[][] contents = [Content(6, 10000), Content(7, 3)];
        var objects = contents.Select((c, i) => bed.Put($"g{i}.gz", c, gzip: true)).ToList();
        bed.Start(objects, Options(compression: "Gzip", wrapper: "RecordIO"));

        Assert.Equal(contents.SelectMany(RecordIOTests.EncodeReference).ToArray(), await bed.ReadEpochAsync("train", 0));
    }

    [Fact]
    public async Task RunAsync_StreamingStore_SameBytesAsLocalSplice()
    {
        // A store that is not LocalObjectStore (as S3 is) goes through the read/write path.
        await using var bed = new PipeTestBed();
        byte[][] contents = [Content(8, (2 << 20) + 3), Content(9, 77)];
        var objects = contents.Select((c, i) => bed.Put($"s{i}", c)).ToList();
        bed.Start(objects, Options(), new StreamingStore(bed.Store));

        Assert.Equal(contents.SelectMany(c => c).ToArray(), await bed.ReadEpochAsync("train", 0));
        Assert.Equal(contents.SelectMany(c => c).ToArray(), await bed.ReadEpochAsync("train", 1));
    }

    [Fact]
    public async Task RunAsync_StreamingStoreRecordIO_SameBytesAsDmlc()
    {
        await using var bed = new PipeTestBed();
        var random = new Random(19);
        byte[][] contents = [RecordIOTests.RandomPayload(random, 999), [], RecordIOTests.RandomPayload(random, RecordIOWriter.InMemoryLimit + 4097)];
        var objects = contents.Select((c, i) => bed.Put($"r{i}", c)).ToList();
        bed.Start(objects, Options(wrapper: "RecordIO"), new StreamingStore(bed.Store));

        Assert.Equal(contents.SelectMany(RecordIOTests.EncodeReference).ToArray(), await bed.ReadEpochAsync("train", 0));
    }

    [Fact]
    public async Task RunAsync_AugmentedManifest_OneRecordPerAttributeInOrder()
    {
        await using var bed = new PipeTestBed();
        var image1 = Content(10, 5000);
        var image2 = Content(11, 7);
        bed.Put("images/1.jpg", image1);
        bed.Put("images/2.jpg", image2);
        var manifest = bed.Put("train.manifest", Encoding.UTF8.GetBytes("""
            {"source-ref": "s3://bucket/images/1.jpg", "class": "cat", "meta": {"w": 3}}
            {"meta": [1], "class": 2, "source-ref": "s3://bucket/images/2.jpg"}

            """));
        bed.Start([manifest], Options(wrapper: "RecordIO", dataType: "AugmentedManifestFile", attributes: ["source-ref", "class", "meta"]));

        var reader = new RecordIOReader(await bed.OpenAsync("train", 0));
        Assert.Equal(image1, await reader.ReadRecordAsync(bed.Timeout));
        Assert.Equal("cat"u8.ToArray(), await reader.ReadRecordAsync(bed.Timeout));
        Assert.Equal("""{"w": 3}"""u8.ToArray(), await reader.ReadRecordAsync(bed.Timeout));
        Assert.Equal(image2, await reader.ReadRecordAsync(bed.Timeout));
        Assert.Equal("2"u8.ToArray(), await reader.ReadRecordAsync(bed.Timeout));
        Assert.Equal("[1]"u8.ToArray(), await reader.ReadRecordAsync(bed.Timeout));
        Assert.Null(await reader.ReadRecordAsync(bed.Timeout));
    }

    [Fact]
    public async Task RunAsync_AugmentedManifestShuffled_LinesInShuffledOrder()
    {
        await using var bed = new PipeTestBed();
        var lines = Enumerable.Range(0, 20).Select(i => $"{{\"label\": \"{i}\"}}").ToArray();
        var manifest = bed.Put("m.manifest", Encoding.UTF8.GetBytes(string.Join('\n', lines)));
        bed.Start([manifest], Options(wrapper: "RecordIO", seed: 3, dataType: "AugmentedManifestFile", attributes: ["label"]));

        for (var epoch = 0; epoch < 2; epoch++)
        {
            var reader = new RecordIOReader(await bed.OpenAsync("train", epoch));
            foreach (var i in DeterministicShuffle.Shuffle(Enumerable.Range(0, 20).ToArray(), 3, epoch))
            {
                Assert.Equal(Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)), await reader.ReadRecordAsync(bed.Timeout));
            }

            Assert.Null(await reader.ReadRecordAsync(bed.Timeout));
        }
    }

    [Fact]
    public async Task RunAsync_ObjectNotGzip_FailsNamingObject()
    {
        await using var bed = new PipeTestBed();
        var objects = new[] { bed.Put("ok.gz", Content(1, 100), gzip: true), bed.Put("plain.txt.gz", "this is not gzip"u8.ToArray()) };
        bed.Start(objects, Options(compression: "Gzip"));
        var running = bed.Running!;

        await using (var fifo = await bed.OpenAsync("train", 0))
        {
            await fifo.CopyToAsync(Stream.Null, bed.Timeout);
        }

        var e = await Assert.ThrowsAsync<PipeChannelException>(() => running.WaitAsync(bed.Timeout));
        Assert.Contains("s3://bucket/plain.txt.gz", e.Message, StringComparison.Ordinal);
        Assert.Contains("gzip", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(bed.DataDir));
    }

    [Fact]
    public async Task RunAsync_GzipObjectTruncated_FailsNamingObject()
    {
        await using var bed = new PipeTestBed();
        var whole = bed.Put("cut.gz", Content(18, 200000), gzip: true);
        var path = bed.Store.PathOf(whole.Location);
        var bytes = await File.ReadAllBytesAsync(path, bed.Timeout);
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length * 2 / 3)], bed.Timeout);
        bed.Start([whole], Options(compression: "Gzip"));
        var running = bed.Running!;

        await using (var fifo = await bed.OpenAsync("train", 0))
        {
            await fifo.CopyToAsync(Stream.Null, bed.Timeout);
        }

        var e = await Assert.ThrowsAsync<PipeChannelException>(() => running.WaitAsync(bed.Timeout));
        Assert.Contains("s3://bucket/cut.gz", e.Message, StringComparison.Ordinal);
        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ManifestLineNotJson_FailsNamingManifestAndLine()
    {
        await using var bed = new PipeTestBed();
        bed.Put("x.bin", [1, 2, 3]);
        var manifest = bed.Put("bad.manifest", "{\"source-ref\": \"s3://bucket/x.bin\"}\n{\"source-ref\": oops}\n"u8.ToArray());
        bed.Start([manifest], Options(wrapper: "RecordIO", dataType: "AugmentedManifestFile", attributes: ["source-ref"]));
        var running = bed.Running!;

        await using (var fifo = await bed.OpenAsync("train", 0))
        {
            await fifo.CopyToAsync(Stream.Null, bed.Timeout);
        }

        var e = await Assert.ThrowsAsync<PipeChannelException>(() => running.WaitAsync(bed.Timeout));
        Assert.Contains("s3://bucket/bad.manifest line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_ManifestAttributeMissing_FailsNamingLineAndAttribute()
    {
        await using var bed = new PipeTestBed();
        var manifest = bed.Put("m.manifest", "{\"a\": \"1\", \"b\": \"2\"}\n{\"a\": \"3\"}\n"u8.ToArray());
        bed.Start([manifest], Options(wrapper: "RecordIO", dataType: "AugmentedManifestFile", attributes: ["a", "b"]));
        var running = bed.Running!;

        await using (var fifo = await bed.OpenAsync("train", 0))
        {
            await fifo.CopyToAsync(Stream.Null, bed.Timeout);
        }

        var e = await Assert.ThrowsAsync<PipeChannelException>(() => running.WaitAsync(bed.Timeout));
        Assert.Contains("s3://bucket/m.manifest line 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("'b'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_MissingReferencedObject_FailsNamingIt()
    {
        await using var bed = new PipeTestBed();
        var manifest = bed.Put("m.manifest", "{\"source-ref\": \"s3://bucket/gone.jpg\"}\n"u8.ToArray());
        bed.Start([manifest], Options(wrapper: "RecordIO", dataType: "AugmentedManifestFile", attributes: ["source-ref"]));
        var running = bed.Running!;

        await using (var fifo = await bed.OpenAsync("train", 0))
        {
            await fifo.CopyToAsync(Stream.Null, bed.Timeout);
        }

        var e = await Assert.ThrowsAsync<PipeChannelException>(() => running.WaitAsync(bed.Timeout));
        Assert.Contains("s3://bucket/gone.jpg", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("None")]
    [InlineData("RecordIO")]
    public async Task RunAsync_ReaderClosesEarly_NextEpochIsComplete(string wrapper)
    {
        await using var bed = new PipeTestBed();
        byte[][] contents = [Content(12, 8 << 20), Content(13, 8 << 20)];
        var objects = contents.Select((c, i) => bed.Put($"big{i}", c)).ToList();
        bed.Start(objects, Options(wrapper: wrapper));

        await using (var fifo = await bed.OpenAsync("train", 0))
        {
            var head = new byte[4096];
            await fifo.ReadExactlyAsync(head, bed.Timeout);
        }

        var epoch1 = await bed.ReadEpochAsync("train", 1);
        Assert.Equal(wrapper == "None" ? contents.SelectMany(c => c).ToArray() : contents.SelectMany(RecordIOTests.EncodeReference).ToArray(), epoch1);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileWaitingForReader_RemovesFifoAndReturns()
    {
        await using var bed = new PipeTestBed();
        bed.Start([bed.Put("a", [1])], Options());
        var running = bed.Running!;
        while (!File.Exists(bed.Fifo("train", 0)))
        {
            await Task.Delay(5, bed.Timeout);
        }

        await bed.StopAsync();

        Assert.True(running.IsCompletedSuccessfully);
        Assert.Empty(Directory.GetFileSystemEntries(bed.DataDir));
    }

    [Fact]
    public async Task RunAsync_FifoRemovedByOthersThenCancelled_StillReturns()
    {
        await using var bed = new PipeTestBed();
        bed.Start([bed.Put("a", [1])], Options());
        var running = bed.Running!;
        await bed.WaitForWriterBlockedInOpenAsync();

        File.Delete(bed.Fifo("train", 0));
        await bed.StopAsync();

        Assert.True(running.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileReaderStalls_WriterUnblocksAndReturns()
    {
        await using var bed = new PipeTestBed();
        bed.Start([bed.Put("big", Content(14, 16 << 20))], Options());
        var running = bed.Running!;

        await using var fifo = await bed.OpenAsync("train", 0);
        var some = new byte[1];
        await fifo.ReadExactlyAsync(some, bed.Timeout);
        // The pipe fills and the writer waits for space that never comes until the job stops.
        await bed.StopAsync();

        Assert.True(running.IsCompletedSuccessfully);
        Assert.Empty(Directory.GetFileSystemEntries(bed.DataDir));
    }

    [Fact]
    public async Task RunAsync_StaleFifosFromDeadHost_AreReplaced()
    {
        await using var bed = new PipeTestBed();
        Directory.CreateDirectory(bed.DataDir);
        File.WriteAllText(bed.Fifo("train", 3), "stale");
        File.WriteAllText(Path.Combine(bed.DataDir, "train_notes"), "not ours");
        var content = Content(15, 100);
        bed.Start([bed.Put("a", content)], Options());

        Assert.Equal(content, await bed.ReadEpochAsync("train", 0));
        Assert.False(File.Exists(bed.Fifo("train", 3)));
        Assert.True(File.Exists(Path.Combine(bed.DataDir, "train_notes")));
    }

    [Fact]
    public async Task RunAsync_TwoChannels_ServeIndependently()
    {
        await using var bed = new PipeTestBed();
        var a = Content(16, 1000);
        var b = Content(17, 2000);
        bed.Start([bed.Put("a", a)], Options());
        using var stop = new CancellationTokenSource();
        var other = PipeChannel.RunAsync(bed.Store, [bed.Put("b", b)], bed.DataDir, Options() with { ChannelName = "validation" }, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, stop.Token);

        Assert.Equal(b, await bed.ReadEpochAsync("validation", 0));
        Assert.Equal(a, await bed.ReadEpochAsync("train", 0));
        await stop.CancelAsync();
        await other.WaitAsync(bed.Timeout);
    }

    [Fact]
    public async Task RunAsync_UnknownCompression_Throws()
    {
        await using var bed = new PipeTestBed();
        await Assert.ThrowsAsync<ArgumentException>(() => PipeChannel.RunAsync(bed.Store, [], bed.DataDir, Options(compression: "Zstd"), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, bed.Timeout));
    }

    /// <summary>The local store's bytes behind a type that is not <see cref="LocalObjectStore"/>, as S3 is.</summary>
    private sealed class StreamingStore(LocalObjectStore inner) : IObjectStore
    {
        public string Name => "streaming";
        public IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);
        public Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken) => inner.HeadAsync(location, cancellationToken);
        public Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken) => inner.OpenReadAsync(location, offset, length, cancellationToken);
        public Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken) => inner.DownloadAsync(source, destinationPath, progress, cancellationToken);
        public Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken) => inner.UploadAsync(location, write, cancellationToken);
        public Task DeleteAsync(S3Location location, CancellationToken cancellationToken) => inner.DeleteAsync(location, cancellationToken);
    }
}
