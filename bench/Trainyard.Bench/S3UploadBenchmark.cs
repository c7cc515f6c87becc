using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// Packing and uploading a 512 MiB model directory as model.tar.gz: Trainyard (TarWriter into a
/// ParallelGzipStream into a streaming multipart upload) against <c>tar czf - | aws s3 cp -</c>.
/// </summary>
internal static class S3UploadBenchmark
{
    private const string Bucket = "bench-upload";

    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var reporting = PageReporting.Hold(options.NoPageReporting);
        Console.WriteLine(PageReporting.Describe());
        var env = await BenchEnvironment.StartAsync(options);
        var model = Path.Combine(options.WorkDir, "model");
        var bytes = CreateModel(model);
        using var store = env.CreateStore();
        await BenchEnvironment.TimeShellAsync($"/usr/bin/aws --endpoint-url {env.EndpointText} s3 mb s3://{Bucket} || true");
        Console.WriteLine($"endpoint {env.EndpointText}, {Environment.ProcessorCount} cores, {bytes >> 20} MiB model directory, best of {options.Runs}");

        var results = new List<(string Tool, double Seconds, long Size)>();
        async Task Measure(string tool, S3Location location, Func<Task<double>> run)
        {
            var best = double.MaxValue;
            for (var i = 0; i < options.Runs; i++)
            {
                best = Math.Min(best, await run());
            }

            var size = (await store.HeadAsync(location, default))!.Size;
            results.Add((tool, best, size));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {tool,-40} {BenchEnvironment.Format(best, bytes)}  archive {size >> 20} MiB"));
        }

        foreach (var (label, level) in new[] { ("Optimal (zlib-ng 6)", CompressionLevel.Optimal), ("Fastest (zlib-ng 1)", CompressionLevel.Fastest) })
        {
            var location = new S3Location(Bucket, $"trainyard-{level}/model.tar.gz");
            await Measure($"trainyard parallel gzip {label}", location, async () =>
            {
                var watch = Stopwatch.StartNew();
                await store.UploadAsync(location, async (stream, ct) =>
                {
                    await using var gzip = new ParallelGzipStream(stream, level, leaveOpen: true);
                    await TarFile.CreateFromDirectoryAsync(model, gzip, includeBaseDirectory: false, ct);
                }, default);
                return watch.Elapsed.TotalSeconds;
            });
        }

        await Measure("tar czf - | aws s3 cp - (gzip -6)", new S3Location(Bucket, "aws/model.tar.gz"), () => BenchEnvironment.TimeShellAsync(
            $"set -o pipefail; tar czf - -C {model} . | /usr/bin/aws --endpoint-url {env.EndpointText} s3 cp - s3://{Bucket}/aws/model.tar.gz"));

        var baseline = results[^1].Seconds;
        foreach (var (tool, seconds, _) in results.SkipLast(1))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  speed-up of {tool,-40} {baseline / seconds:F2}x"));
        }

        if (!options.Keep)
        {
            Directory.Delete(options.WorkDir, recursive: true);
            await foreach (var o in store.ListAsync(new S3Location(Bucket, ""), default))
            {
                await store.DeleteAsync(o.Location, default);
            }

            env.Stop();
        }

        Console.WriteLine(BenchEnvironment.PeakMemory());
        return 0;
    }

    /// <summary>
    /// A model-like directory: float32 weights drawn from a normal distribution (which compress a little,
    /// like real checkpoints), a tokenizer-like text file and a few small configs; 512 MiB in all.
    /// </summary>
    private static long CreateModel(string dir)
    {
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        Directory.CreateDirectory(Path.Combine(dir, "tokenizer"));
        var random = new Random(42);
        var shard = new float[(120 << 20) / sizeof(float)];
        for (var s = 0; s < 3; s++)
        {
            for (var i = 0; i < shard.Length; i += 2)
            {
                // Box-Muller: two normal samples from two uniforms, scaled like initialised weights.
                var u1 = 1.0 - random.NextDouble();
                var u2 = random.NextDouble();
                var r = Math.Sqrt(-2 * Math.Log(u1)) * 0.02;
                shard[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
                shard[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
            }

            File.WriteAllBytes(Path.Combine(dir, $"model-{s:d5}-of-00003.safetensors"), MemoryMarshal.AsBytes(shard.AsSpan()).ToArray());
        }

        var vocab = string.Join('\n', Enumerable.Range(0, 2_000_000).Select(i => $"token_{i % 50_000}_{i * 7919 % 100_003}\t{i}"));
        File.WriteAllText(Path.Combine(dir, "tokenizer", "vocab.txt"), vocab);
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"hidden_size\": 4096, \"num_layers\": 32}");
        var total = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

        // Pad with a checkpoint-like blob to exactly 512 MiB.
        var rest = (512L << 20) - total;
        var pad = new byte[rest];
        random.NextBytes(pad);
        File.WriteAllBytes(Path.Combine(dir, "optimizer.pt"), pad);
        return 512L << 20;
    }
}
