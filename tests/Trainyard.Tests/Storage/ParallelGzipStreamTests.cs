using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using Trainyard.Storage;

namespace Trainyard.Tests.Storage;

public sealed class ParallelGzipStreamTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1024 * 1024)]
    [InlineData((5 * 1024 * 1024) + 333)]
    public async Task WriteAsync_AnyLength_DecompressesToTheSameBytes(int length)
    {
        var data = Payload(length);
        using var output = new MemoryStream();

        await using (var gzip = new ParallelGzipStream(output, CompressionLevel.Fastest, leaveOpen: true, degreeOfParallelism: 3))
        {
            var random = new Random(1);
            for (var offset = 0; offset < data.Length;)
            {
                var n = Math.Min(random.Next(1, 700_000), data.Length - offset);
                await gzip.WriteAsync(data.AsMemory(offset, n));
                offset += n;
            }
        }

        Assert.Equal(data, Decompress(output.ToArray()));
    }

    [Fact]
    public void Write_Synchronous_DecompressesToTheSameBytes()
    {
        var data = Payload(3 * 1024 * 1024 + 5);
        using var output = new MemoryStream();

        using (var gzip = new ParallelGzipStream(output, CompressionLevel.Optimal, leaveOpen: true, blockSize: 64 * 1024))
        {
            gzip.Write(data, 0, data.Length);
        }

        Assert.Equal(data, Decompress(output.ToArray()));
    }

    [Fact]
    public async Task TarOfDirectory_IsAValidTarGz_ForGzipAndTar()
    {
        var dir = Path.Combine(Path.GetTempPath(), "trainyard-gzip-tests", Guid.NewGuid().ToString("N"));
        var model = Path.Combine(dir, "model");
        Directory.CreateDirectory(Path.Combine(model, "nested"));
        await File.WriteAllBytesAsync(Path.Combine(model, "weights.bin"), Payload(4 * 1024 * 1024 + 17));
        await File.WriteAllTextAsync(Path.Combine(model, "nested", "vocab.txt"), string.Join('\n', Enumerable.Range(0, 200_000)));
        var archive = Path.Combine(dir, "model.tar.gz");

        await using (var file = File.Create(archive))
        await using (var gzip = new ParallelGzipStream(file))
        {
            await TarFile.CreateFromDirectoryAsync(model, gzip, includeBaseDirectory: false);
        }

        Assert.Equal(0, Run("gzip", "-t", archive).Code);
        var (code, listing) = Run("tar", "tzf", archive);
        Assert.Equal(0, code);
        Assert.Equal(["nested/", "nested/vocab.txt", "weights.bin"], listing.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        var extracted = Path.Combine(dir, "x");
        Directory.CreateDirectory(extracted);
        Assert.Equal(0, Run("tar", "xzf", archive, "-C", extracted).Code);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(model, "weights.bin")), await File.ReadAllBytesAsync(Path.Combine(extracted, "weights.bin")));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Dispose_NothingWritten_WritesOneValidEmptyMember()
    {
        using var output = new MemoryStream();

        new ParallelGzipStream(output, leaveOpen: true).Dispose();

        Assert.NotEqual(0, output.Length);
        Assert.Empty(Decompress(output.ToArray()));
    }

    // Half random, half repetitive, so blocks differ in how well they compress.
    private static byte[] Payload(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data.AsSpan(0, length / 2));
        for (var i = length / 2; i < length; i++)
        {
            data[i] = (byte)(i % 17);
        }

        return data;
    }

    private static byte[] Decompress(byte[] gz)
    {
        using var input = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var result = new MemoryStream();
        input.CopyTo(result);
        return result.ToArray();
    }

    private static (int Code, string Stdout) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout);
    }
}
