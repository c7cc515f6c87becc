using System.Diagnostics;
using System.Security.Cryptography;
using Trainyard.S3;

namespace Trainyard.Bench;

/// <summary>
/// Checking ETags without the network: MD5 of 1 GiB of files in the page cache, as 8 × 128 MiB and
/// 2,000 × 512 KiB, by the sixteen-lane verifier (files handed over as fully written) against
/// IncrementalHash (OpenSSL) one file at a time on every core and `md5sum`. Usage: md5 [--runs 3]
/// </summary>
internal static class Md5Bench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length >= 2 && args[0] == "--runs" ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var root = Path.Combine(Path.GetTempPath(), "trainyard-bench-md5");
        Console.WriteLine($"{Environment.ProcessorCount} cores, AVX-512F {Md5Lanes.IsSupported}, best of {runs}");
        KernelOnly();
        foreach (var (count, size) in new[] { (8, 128 << 20), (2000, 512 << 10) })
        {
            var dir = Path.Combine(root, $"{count}");
            Directory.CreateDirectory(dir);
            var files = Enumerable.Range(0, count).Select(i => Path.Combine(dir, $"f{i:d4}")).ToArray();
            foreach (var (file, i) in files.Select((f, i) => (f, i)).Where(x => !File.Exists(x.f) || new FileInfo(x.f).Length != size))
            {
                var data = new byte[size];
                new Random(i).NextBytes(data);
                await File.WriteAllBytesAsync(file, data);
            }

            var expected = files.Select(f => MD5.HashData(File.ReadAllBytes(f))).ToArray();
            async Task Time(string name, Func<Task<byte[][]>> run)
            {
                var best = double.MaxValue;
                for (var r = 0; r < runs; r++)
                {
                    var watch = Stopwatch.StartNew();
                    var digests = await run();
                    best = Math.Min(best, watch.Elapsed.TotalSeconds);
                    if (!digests.Zip(expected).All(p => p.First.AsSpan().SequenceEqual(p.Second)))
                    {
                        throw new InvalidOperationException($"{name}: wrong digest");
                    }
                }

                Console.WriteLine($"  {count} x {size >> 10} KiB  {name,-36} {best:F3} s  {(double)count * size / best / (1 << 20),8:F0} MiB/s");
            }

            await Time("sixteen-lane verifier (1 thread)", async () =>
            {
                var handles = files.Select(f => File.OpenHandle(f)).ToArray();
                try
                {
                    // Keep at most 16 files open in the verifier at once, as ParallelDownloader does.
                    var digests = new byte[count][];
                    await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
                    {
                        var job = Md5Verifier.Shared.Start(handles[i], size);
                        job.Advance(size);
                        digests[i] = await job.Digest;
                    });
                    return digests;
                }
                finally
                {
                    foreach (var h in handles)
                    {
                        h.Dispose();
                    }
                }
            });
            await Time($"IncrementalHash ({Environment.ProcessorCount} threads)", async () =>
            {
                var digests = new byte[count][];
                await Parallel.ForEachAsync(Enumerable.Range(0, count), async (i, ct) =>
                {
                    await using var stream = new FileStream(files[i], FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                    digests[i] = await MD5.HashDataAsync(stream, ct);
                });
                return digests;
            });
            await Time("md5sum (1 process)", async () =>
            {
                var list = Path.Combine(root, "list");
                await File.WriteAllLinesAsync(list, files);
                var watch = Stopwatch.StartNew();
                using var p = Process.Start(new ProcessStartInfo("bash", ["-c", $"xargs -a {list} md5sum > /dev/null"]))!;
                await p.WaitForExitAsync();
                return expected;
            });
        }

        Directory.Delete(root, true);
        return 0;
    }

    /// <summary>The kernel alone over memory: 16 lanes × 4 MiB, 1 GiB in all.</summary>
    private static unsafe void KernelOnly()
    {
        const int perLane = 4 << 20;
        var buffer = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(16 * perLane, 64);
        new Span<byte>(buffer, 16 * perLane).Fill(7);
        var state = new uint[64];
        var pointers = new IntPtr[16];
        for (var lanes = 1; lanes <= 16; lanes *= 2)
        {
            var best = double.MaxValue;
            for (var r = 0; r < 3; r++)
            {
                var watch = Stopwatch.StartNew();
                long bytes = 0;
                while (bytes < 1L << 30)
                {
                    for (var i = 0; i < 16; i++)
                    {
                        pointers[i] = (IntPtr)(buffer + (i * perLane));
                    }

                    Md5Lanes.Compress(state, pointers, perLane / 64, (1 << lanes) - 1);
                    bytes += (long)lanes * perLane;
                }

                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }

            Console.WriteLine($"  kernel only, {lanes,2} lanes: {(1L << 30) / best / (1 << 20),8:F0} MiB/s");
        }

        System.Runtime.InteropServices.NativeMemory.AlignedFree(buffer);
    }
}
