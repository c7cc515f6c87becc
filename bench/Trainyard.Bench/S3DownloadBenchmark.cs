using System.Diagnostics;
using System.Globalization;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// 1 GiB from S3 to local files in two shapes — 8 × 128 MiB and 2,000 × 512 KiB — with Trainyard's
/// store, the AWS CLI and rclone, best of N runs each.
/// </summary>
internal static class S3DownloadBenchmark
{
    private const string Bucket = "bench-download";

    public static async Task<int> RunAsync(BenchOptions options)
    {
        using var reporting = PageReporting.Hold(options.NoPageReporting);
        Console.WriteLine(PageReporting.Describe());
        var env = await BenchEnvironment.StartAsync(options);
        var shapes = new (string Name, int Count, int Size)[] { ("8x128MiB", 8, 128 << 20), ("2000x512KiB", 2000, 512 << 10) };
        using var store = env.CreateStore();
        await Seed(env, store, shapes);

        // Seeding held 8 × 128 MiB of random bytes at once: give the heap back before anything is timed.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        Console.WriteLine($"endpoint {env.EndpointText}, {Environment.ProcessorCount} cores, best of {options.Runs}");
        SpreadSubdirectories(options.WorkDir);
        foreach (var (name, count, size) in shapes)
        {
            var bytes = (long)count * size;
            var prefix = new S3Location(Bucket, name + "/");
            var target = Path.Combine(options.WorkDir, "download");
            using var sdkStore = env.CreateStore(o => o.DirectHttpDownloads = false);
            using var noMd5Store = env.CreateStore(o => o.VerifyMd5 = false);
            var tools = new List<(string Tool, Func<Task<double>> Run, bool InProcess)>
            {
                ("trainyard (http ranges)", () => Trainyard(store, prefix, target), true),
                ("trainyard (sdk GetObject)", () => Trainyard(sdkStore, prefix, target), true),
                ("trainyard (no MD5 check)", () => Trainyard(noMd5Store, prefix, target), true),
            };
            if (Environment.GetEnvironmentVariable("BENCH_SKIP_BASELINES") != "1")
            {
                tools.Add(("aws s3 cp --recursive", () => BenchEnvironment.TimeShellAsync(
                    $"/usr/bin/aws --endpoint-url {env.EndpointText} s3 cp --recursive --quiet s3://{Bucket}/{name}/ {target}/"), false));
                tools.Add(("rclone copy", () => BenchEnvironment.TimeShellAsync(
                    $"rclone copy ':s3,provider=Other,endpoint=\"{env.EndpointText}\",access_key_id=S3RVER,secret_access_key=S3RVER,force_path_style=true:{Bucket}/{name}' {target}",
                    unsetCaBundle: true), false));
            }

            if (Environment.GetEnvironmentVariable("BENCH_ONLY") is { Length: > 0 } only)
            {
                tools.RemoveAll(t => !$"{name} {t.Tool}".Contains(only, StringComparison.Ordinal));
            }

            // In-process variants get one untimed run first, so the timed ones see a warm server (code
            // jitted, connections open), not this process's first seconds of JIT. The CLI tools are new
            // processes every time, start-up included.
            foreach (var (_, run, _) in tools.Where(t => t.InProcess))
            {
                Reset(target);
                await run();
            }

            // Round-robin: run i of every tool before run i + 1 of any, so a slow spell of this shared
            // machine lands on all of them alike instead of on whichever tool's turn it was.
            var best = tools.ToDictionary(t => t.Tool, _ => double.MaxValue);
            for (var i = 0; i < options.Runs; i++)
            {
                foreach (var (tool, run, _) in tools)
                {
                    Reset(target);
                    var serverBefore = BenchEnvironment.ServerCpuSeconds();
                    var seconds = await run();
                    var server = BenchEnvironment.ServerCpuSeconds() - serverBefore;
                    Verify(target, count, size);
                    best[tool] = Math.Min(best[tool], seconds);
                    var busy = server is { } cpu ? $", s3rver CPU {cpu:F2} s ({cpu / seconds:P0} of one core)" : "";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    run {i + 1}: {tool,-28} {seconds:F2} s{busy}"));
                }
            }

            DeleteAside(options.WorkDir);
            var results = tools.Select(t => (t.Tool, Seconds: best[t.Tool])).ToList();
            foreach (var (tool, seconds) in results)
            {
                Console.WriteLine($"  {name,-12} {tool,-28} {BenchEnvironment.Format(seconds, bytes)}");
            }

            if (results.Count == 0)
            {
                continue;
            }

            var ours = results[0].Seconds;
            foreach (var (tool, seconds) in results.Skip(1))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-12} speed-up vs {tool,-28} {seconds / ours:F2}x"));
            }
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

    private static async Task<double> Trainyard(IObjectStore store, S3Location prefix, string target)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        var listed = await store.ListAsync(prefix, default).ToListAsync();
        var items = listed.Select(o => (o, Path.Combine(target, o.Location.Key[prefix.Key.Length..]))).ToList();
        await ParallelDownloader.DownloadManyAsync(store, items, global::Trainyard.DataPlane.FileChannelLoader.DefaultParallelism, null, default);
        var elapsed = watch.Elapsed.TotalSeconds;
        if (Environment.GetEnvironmentVariable("BENCH_CPU") == "1")
        {
            var used = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {elapsed:F2} s, client CPU {used:F2} s"));
        }

        return elapsed;
    }

    private static async Task Seed(BenchEnvironment env, IObjectStore store, (string Name, int Count, int Size)[] shapes)
    {
        await BenchEnvironment.TimeShellAsync($"/usr/bin/aws --endpoint-url {env.EndpointText} s3 mb s3://{Bucket} || true");
        foreach (var (name, count, size) in shapes)
        {
            var existing = await store.ListAsync(new S3Location(Bucket, name + "/"), default).CountAsync();
            if (existing == count)
            {
                continue;
            }

            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
            {
                var data = new byte[size];
                new Random(i).NextBytes(data);
                await store.UploadAsync(new S3Location(Bucket, $"{name}/f{i:d4}.bin"), (s, c) => s.WriteAsync(data, c).AsTask(), ct);
            });
        }
    }

    private static void Reset(string dir)
    {
        // Dirty pages from the previous run must not be flushed on the next one's clock.
        Process.Start("sync")!.WaitForExit();
        if (Directory.Exists(dir))
        {
            if (Environment.GetEnvironmentVariable("BENCH_DELETE_BETWEEN_RUNS") == "1")
            {
                Directory.Delete(dir, recursive: true);
            }
            else
            {
                // Set aside, not deleted: on this journal-less ext4 a freed inode is skipped, at a read of the
                // inode table each, by every allocation for the next minutes, and the next run would pay for
                // this one's 2,000 deletions (see SpreadSubdirectories). Its pages leave the page cache now, as
                // a deletion's would; the files go when the bench ends.
                var aside = Path.Combine(Path.GetDirectoryName(dir)!, ".aside", Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(Path.GetDirectoryName(aside)!);
                Directory.Move(dir, aside);
                foreach (var file in Directory.EnumerateFiles(aside, "*", SearchOption.AllDirectories))
                {
                    using var handle = File.OpenHandle(file);
                    _ = PosixFadvise(handle.DangerousGetHandle().ToInt32(), 0, 0, PosixFadvDontNeed);
                }
            }
        }

        Directory.CreateDirectory(dir);
    }

    /// <summary>Deletes what <see cref="Reset"/> set aside (outside any timed run).</summary>
    private static void DeleteAside(string parent)
    {
        var aside = Path.Combine(parent, ".aside");
        if (Directory.Exists(aside))
        {
            Directory.Delete(aside, recursive: true);
        }
    }

    private const int PosixFadvDontNeed = 4;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int PosixFadvise(int fd, long offset, long length, int advice);

    /// <summary>
    /// Marks <paramref name="parent"/> as the top of a directory hierarchy (ext4's TOPDIR flag, `chattr +T`),
    /// so each run's fresh target directory is placed in a block group of its own. This root file system is
    /// ext4 without a journal, and there ext4 skips every inode freed in the last minute (five, while its
    /// inode table block is dirty) when it allocates one, reading each from the inode table: after a few
    /// tools had each created and deleted 2,000 files in the same group, creating 2,000 more cost 0.3 s+ of
    /// CPU and was 38 % of Trainyard's client CPU on the small objects. Every tool writes under the same
    /// parent, so all get the same fresh start. Best effort: other file systems ignore or refuse the flag.
    /// </summary>
    private static void SpreadSubdirectories(string parent)
    {
        Directory.CreateDirectory(parent);
        using var chattr = Process.Start(new ProcessStartInfo("chattr", ["+T", parent]) { RedirectStandardError = true, UseShellExecute = false });
        chattr?.WaitForExit();
    }

    private static void Verify(string dir, int count, int size)
    {
        var files = Directory.GetFiles(dir, "*", SearchOption.AllDirectories);
        if (files.Length != count || files.Any(f => new FileInfo(f).Length != size))
        {
            throw new InvalidOperationException($"{dir}: expected {count} files of {size} bytes, found {files.Length}");
        }
    }
}
