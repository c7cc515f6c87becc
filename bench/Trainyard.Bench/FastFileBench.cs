using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.Api;
using Trainyard.DataPlane;
using Trainyard.DataPlane.FastFile;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// FastFile against File mode and against the store itself (docs/benchmarks.md, FastFile):
/// <list type="number">
/// <item>time to the algorithm's first byte of a 4 GiB channel (4 sparse 1 GiB objects), FastFile vs File mode, through real jobs;</item>
/// <item>sequential MB/s of one large object read through the mount (an external Python reader) vs parallel ranged reads from the store;</item>
/// <item>time until a channel of 100,000 small objects is listed and mounted.</item>
/// </list>
/// Usage: fastfile [ttfb|seq|small|all] [--channel-gib 4] [--seq-mib 1024] [--small 100000] [--runs 3]
/// </summary>
internal static partial class FastFileBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var what = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "all";
        var channelGiB = Option(args, "--channel-gib", 4);
        var seqMiB = Option(args, "--seq-mib", 1024);
        var small = Option(args, "--small", 100_000);
        var runs = Option(args, "--runs", 3);
        Threads = Option(args, "--threads", new FastFileOptions().Threads);
        ReadKiB = Option(args, "--read-kib", 1024);
        var root = Path.Combine(Path.GetTempPath(), "trainyard-bench-fastfile-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(root);
        try
        {
            if (what is "ttfb" or "all")
            {
                await TimeToFirstByteAsync(root, channelGiB, runs);
            }

            if (what is "seq" or "all")
            {
                await SequentialAsync(root, seqMiB, runs);
            }

            if (what == "s3")
            {
                await OverS3Async(root, new Uri(Environment.GetEnvironmentVariable("FASTFILE_BENCH_S3") ?? "http://127.0.0.1:4568"), seqMiB, runs);
            }

            if (what is "small" or "all")
            {
                await SmallObjectsAsync(root, small, runs);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        return 0;
    }

    private static int Threads { get; set; }

    private static int ReadKiB { get; set; }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static async Task TimeToFirstByteAsync(string root, int gib, int runs)
    {
        var home = Path.Combine(root, "home");
        var data = Path.Combine(home, "objects", "bench", "big");
        Directory.CreateDirectory(data);
        for (var i = 0; i < gib; i++)
        {
            await using var f = File.Create(Path.Combine(data, $"part-{i}.bin"));
            f.SetLength(1L << 30); // sparse: the store serves zeros without disk I/O; File mode still writes every byte
        }

        var image = Path.Combine(root, "image");
        Directory.CreateDirectory(image);
        var train = Path.Combine(image, "train");
        await File.WriteAllTextAsync(train, """
            #!/usr/bin/python3 -S
            import os, time
            d = '/opt/ml/input/data/train'
            with open(os.path.join(d, sorted(os.listdir(d))[0]), 'rb') as f:
                f.read(1)
            open('/opt/ml/model/t', 'w').write(repr(time.time()))
            """.Replace("            ", "", StringComparison.Ordinal));
        File.SetUnixFileMode(train, (UnixFileMode)0b111_101_101);

        await using var server = await TrainyardServer.StartAsync(new TrainyardOptions { Home = home });
        using var http = new HttpClient { BaseAddress = server.Address };
        foreach (var mode in new[] { "FastFile", "File" })
        {
            var fromTraining = new List<double>();
            var fromCreate = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                var name = $"ttfb-{mode.ToLowerInvariant()}-{run}";
                var body = $$"""
                    {"TrainingJobName": "{{name}}", "RoleArn": "arn:aws:iam::123456789012:role/r",
                     "AlgorithmSpecification": {"TrainingImage": "{{image}}", "TrainingInputMode": "{{mode}}"},
                     "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/big/"} } }],
                     "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
                     "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": {{gib + 2}} },
                     "StoppingCondition": {"MaxRuntimeInSeconds": 600} }
                    """;
                var (created, job) = await RunJobAsync(http, server, name, body);
                var first = double.Parse(ReadMarker(server, name), CultureInfo.InvariantCulture);
                var training = job["SecondaryStatusTransitions"]!.AsArray().First(t => t!["Status"]!.GetValue<string>() == "Training")!["StartTime"]!.GetValue<double>();
                fromTraining.Add(first - training);
                fromCreate.Add(first - created);
                if (job["TrainingJobStatus"]!.GetValue<string>() != "Completed")
                {
                    throw new InvalidOperationException($"{name} ended {job["TrainingJobStatus"]}: {job["FailureReason"]}");
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"ttfb mode={mode} channel={gib} GiB runs={runs}: first byte {Median(fromTraining):F3} s after Training began, {Median(fromCreate):F3} s after CreateTrainingJob returned (medians; runs: {string.Join(", ", fromCreate.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))})"));
        }
    }

    private static async Task<(double Created, JsonNode Job)> RunJobAsync(HttpClient http, TrainyardServer server, string name, string body)
    {
        using (var response = await BenchApi.CallAsync(http, "CreateTrainingJob", body))
        {
            response.EnsureSuccessStatusCode();
        }

        var created = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalSeconds;
        while (server.Store.Get(name) is not { IsTerminal: true })
        {
            await Task.Delay(10);
        }

        using var describe = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent($$"""{"TrainingJobName": "{{name}}"}""", Encoding.UTF8) };
        describe.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        describe.Headers.Add("X-Amz-Target", "SageMaker.DescribeTrainingJob");
        using var answer = await http.SendAsync(describe);
        return (created, JsonNode.Parse(await answer.Content.ReadAsStringAsync())!);
    }

    private static string ReadMarker(TrainyardServer server, string name)
    {
        var archive = Path.Combine(server.Jobs.Options.ObjectStoreDirectory, "bench", "out", name, "output", "model.tar.gz");
        using var file = File.OpenRead(archive);
        using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress);
        using var tar = new System.Formats.Tar.TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.Name == "t")
            {
                using var reader = new StreamReader(entry.DataStream!);
                return reader.ReadToEnd().Trim();
            }
        }

        throw new InvalidOperationException("the algorithm wrote no timestamp");
    }

    private static async Task SequentialAsync(string root, int mib, int runs)
    {
        var storeRoot = Path.Combine(root, "store");
        var store = new LocalObjectStore(storeRoot);
        var path = Path.Combine(storeRoot, "bench", "seq", "big.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var rng = new Random(1);
        var chunk = new byte[1 << 20];
        await using (var f = File.Create(path))
        {
            for (var i = 0; i < mib; i++)
            {
                rng.NextBytes(chunk);
                await f.WriteAsync(chunk);
            }
        }

        var info = (await store.HeadAsync(S3Location.Parse("s3://bench/seq/big.bin"), CancellationToken.None))!;
        var objects = new List<ChannelObject> { new(info, "big.bin") };
        await StoreParallelAsync(store, info, 16, 8 << 20); // warm the page cache: both sides read memory, not disk

        // Runs alternate between the store and the mount so that both see the same load from the
        // machine's other users; the ratio is taken per pair. Run -1 warms both up (JIT, page cache).
        var baseline = new List<double>();
        var allocating = new List<double>();
        var mounted = new List<double>();
        var ratios = new List<double>();
        var allocatingRatios = new List<double>();
        var mountPoint = Path.Combine(root, "mnt");
        var gen2 = GC.CollectionCount(2);
        for (var run = -1; run < runs; run++)
        {
            var store1 = await StoreParallelAsync(store, info, 16, 8 << 20);
            var store2 = await StoreParallelAsync(store, info, 16, 8 << 20, reuseBuffers: false);

            // a fresh mount each run: nothing in the block cache
            await using var mount = await FastFileMount.MountAsync(store, objects, mountPoint, new FastFileOptions { Threads = Threads }, NullLogger.Instance, CancellationToken.None);
            var output = await PythonAsync("""
                import sys, time
                buf = memoryview(bytearray(int(sys.argv[2]) * 1024))
                t = time.perf_counter()
                n = 0
                with open(sys.argv[1], 'rb', buffering=0) as f:
                    while True:
                        r = f.readinto(buf)
                        if not r:
                            break
                        n += r
                print(n / (time.perf_counter() - t) / 1e6)
                """.Replace("                ", "", StringComparison.Ordinal), Path.Combine(mountPoint, "big.bin"), ReadKiB.ToString(CultureInfo.InvariantCulture));
            if (run >= 0)
            {
                baseline.Add(store1);
                mounted.Add(double.Parse(output, CultureInfo.InvariantCulture));
                ratios.Add(mounted[^1] / store1);
                allocating.Add(store2);
                allocatingRatios.Add(mounted[^1] / store2);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"(gen2 GCs during the runs: {GC.CollectionCount(2) - gen2})"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"seq object={mib} MiB runs={runs}: store parallel ranged reads (16 x 8 MiB, reused buffers) {Median(baseline):F0} MB/s [{string.Join(", ", baseline.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))}]; " +
            $"(a new buffer per read) {Median(allocating):F0} MB/s [{string.Join(", ", allocating.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))}]; " +
            $"through the mount (python readinto, {ReadKiB} KiB reads) {Median(mounted):F0} MB/s [{string.Join(", ", mounted.Select(v => v.ToString("F0", CultureInfo.InvariantCulture)))}] ; mount/store per run {string.Join(", ", ratios.Select(v => v.ToString("P0", CultureInfo.InvariantCulture)))}, median {Median(ratios):P0} of reused-buffer reads, {Median(allocatingRatios):P0} of new-buffer reads"));
        File.Delete(path);
    }

    private static async Task<double> StoreParallelAsync(IObjectStore store, ObjectInfo info, int degree, int rangeSize, bool reuseBuffers = true)
    {
        var ranges = Enumerable.Range(0, (int)((info.Size + rangeSize - 1) / rangeSize)).Select(i => (long)i * rangeSize);
        // Buffers are reused, as the mount's blocks are: the comparison is of reading, not of allocating.
        var buffers = new System.Collections.Concurrent.ConcurrentBag<byte[]>(Enumerable.Range(0, degree).Select(_ => new byte[rangeSize]));
        var sw = Stopwatch.StartNew();
        await Parallel.ForEachAsync(ranges, new ParallelOptions { MaxDegreeOfParallelism = degree }, async (offset, ct) =>
        {
            var length = (int)Math.Min(rangeSize, info.Size - offset);
            byte[]? buffer = null;
            if (reuseBuffers)
            {
                buffers.TryTake(out buffer);
            }

            buffer ??= GC.AllocateUninitializedArray<byte>(length); // as an SDK's response buffer would be
            using var back = new Returner(reuseBuffers ? buffers : null, buffer);
            await using var s = await store.OpenReadAsync(info.Location, offset, length, ct);
            var read = 0;
            while (read < length)
            {
                var n = await s.ReadAsync(buffer.AsMemory(read), ct);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }
        });
        return info.Size / sw.Elapsed.TotalSeconds / 1e6;
    }

    private sealed class Returner(System.Collections.Concurrent.ConcurrentBag<byte[]>? bag, byte[] buffer) : IDisposable
    {
        public void Dispose() => bag?.Add(buffer);
    }

    private static async Task SmallObjectsAsync(string root, int count, int runs)
    {
        var storeRoot = Path.Combine(root, "store");
        var store = new LocalObjectStore(storeRoot);
        var prefixDir = Path.Combine(storeRoot, "bench", "small");
        var content = new byte[64];
        for (var i = 0; i < count; i++)
        {
            var dir = Path.Combine(prefixDir, (i / 1000).ToString("D4", CultureInfo.InvariantCulture));
            if (i % 1000 == 0)
            {
                Directory.CreateDirectory(dir);
            }

            await File.WriteAllBytesAsync(Path.Combine(dir, i.ToString("D7", CultureInfo.InvariantCulture) + ".json"), content);
        }

        var prefix = S3Location.Parse("s3://bench/small/");
        var mountPoint = Path.Combine(root, "mnt-small");
        var listTimes = new List<double>();
        var mountTimes = new List<double>();
        var walkTimes = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var sw = Stopwatch.StartNew();
            var objects = new List<ChannelObject>();
            await foreach (var info in store.ListAsync(prefix, CancellationToken.None))
            {
                objects.Add(new ChannelObject(info, ChannelResolver.RelativePath(prefix, info.Location)));
            }

            listTimes.Add(sw.Elapsed.TotalSeconds);
            sw.Restart();
            await using var mount = await FastFileMount.MountAsync(store, objects, mountPoint, new FastFileOptions { Threads = Threads }, NullLogger.Instance, CancellationToken.None);
            mountTimes.Add(sw.Elapsed.TotalSeconds);
            var walk = await PythonAsync("""
                import os, sys, time
                t = time.perf_counter()
                n = sum(len(files) for _, _, files in os.walk(sys.argv[1]))
                print(time.perf_counter() - t, n)
                """.Replace("                ", "", StringComparison.Ordinal), mountPoint);
            var parts = walk.Split(' ');
            if (int.Parse(parts[1], CultureInfo.InvariantCulture) != count)
            {
                throw new InvalidOperationException($"the walk saw {parts[1]} files, not {count}");
            }

            walkTimes.Add(double.Parse(parts[0], CultureInfo.InvariantCulture));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"small objects={count} runs={runs}: listed in {Median(listTimes):F2} s, mounted in {Median(mountTimes):F3} s, ready {Median(listTimes.Zip(mountTimes, (a, b) => a + b).ToList()):F2} s after the listing began (medians); a full os.walk of the mount then takes {Median(walkTimes):F2} s"));
    }

    private static async Task<string> PythonAsync(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException("python failed: " + await stderr);
        }

        return (await stdout).Trim();
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
