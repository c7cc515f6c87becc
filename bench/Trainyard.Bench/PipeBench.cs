using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.DataPlane.Pipe;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// Pipe mode throughput: local store → FIFO → a reader that discards bytes (<c>dd of=/dev/null bs=1M</c>),
/// beside <c>cat files &gt; fifo</c> and, for gzip, <c>gzip -dc</c>. Data lives in a temp directory and is
/// deleted afterwards; the page cache is warmed first so the numbers measure the data path, not the disk.
/// </summary>
internal static class PipeBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var gib = Option(args, "--gib", 2.0);
        var objectCount = (int)Option(args, "--objects", 8);
        var gzipMib = (int)Option(args, "--gzip-mib", 512);
        var runs = (int)Option(args, "--runs", 3);
        var baseDir = OptionString(args, "--dir") ?? Path.GetTempPath();
        var root = Path.Combine(baseDir, "trainyard-bench-pipe-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var store = new LocalObjectStore(Path.Combine(root, "store"));
            var dataDir = Path.Combine(root, "data");
            Directory.CreateDirectory(dataDir);

            Console.WriteLine($"# pipe benchmark: {Environment.ProcessorCount} cores, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, pipe-max-size {File.ReadAllText("/proc/sys/fs/pipe-max-size").Trim()}, loadavg {File.ReadAllText("/proc/loadavg").Trim()}");
            var objectSize = (long)(gib * (1L << 30)) / objectCount;
            var plain = CreateObjects(store, "plain", objectCount, objectSize, compressible: false);
            var plainBytes = plain.Sum(o => o.Size);
            var plainFiles = string.Join(' ', plain.Select(o => Quote(store.PathOf(o.Location))));
            await Shell($"cat {plainFiles} > /dev/null").ConfigureAwait(false);
            Console.WriteLine($"uncompressed: {objectCount} objects, {plainBytes / (double)(1L << 30):F2} GiB (page cache warm)");

            var fifo = Path.Combine(root, "catfifo");
            var readerScript = Path.Combine(root, "reader.py");
            File.WriteAllText(readerScript, PythonReader);
            await Measure("cat files | dd of=/dev/null bs=1M (anonymous pipe)", plainBytes, runs,
                () => Shell($"cat {plainFiles} | dd of=/dev/null bs=1M status=none")).ConfigureAwait(false);

            // Per reader, as the algorithms read: its ceiling (the same reader on the files in the page cache),
            // `cat files > fifo` into it, and Pipe mode into it.
            var readers = new List<(string Name, Func<string, string> Command)>
            {
                ("dd bs=1M", p => $"dd if={p} of=/dev/null bs=1M status=none"),
            };
            foreach (var size in new[] { 64 << 10, 1 << 20, 8 << 20 })
            {
                readers.Add(($"python read({size >> 10} KiB) unbuffered", p => $"/usr/bin/python3 {readerScript} read {size} {p}"));
            }

            readers.Add(("python buffered readinto(1 MiB)", p => $"/usr/bin/python3 {readerScript} readinto {1 << 20} {p}"));
            if (await Succeeds("/usr/bin/python3 -c 'import numpy'").ConfigureAwait(false))
            {
                readers.Add(("numpy fromfile(uint8, 64 MiB)", p => $"/usr/bin/python3 {readerScript} numpy {64 << 20} {p}"));
            }
            else
            {
                Console.WriteLine("numpy is not installed for /usr/bin/python3 (apt-get install python3-numpy): its reader is skipped");
            }

            foreach (var (readerName, command) in readers)
            {
                await Measure($"{readerName} ← files in the page cache (ceiling)", plainBytes, runs,
                    () => Shell(string.Join(" && ", plain.Select(o => command(Quote(store.PathOf(o.Location))))))).ConfigureAwait(false);
                await Measure($"{readerName} ← cat files > fifo", plainBytes, runs,
                    () => Shell($"rm -f {fifo}; mkfifo {fifo}; {command(fifo)} & cat {plainFiles} > {fifo}; wait; rm -f {fifo}")).ConfigureAwait(false);
                await MeasurePipeChannel($"{readerName} ← Pipe mode, local store (epochs 0..{runs - 1})", store, plain, dataDir,
                    new PipeChannelOptions("plain", "None", "None", null, "S3Prefix", null), plainBytes, runs, command).ConfigureAwait(false);
            }

            await MeasurePipeChannel("dd bs=1M ← Pipe mode, streaming store (read/write path, as S3)", new StreamingStore(store), plain, dataDir,
                new PipeChannelOptions("stream", "None", "None", null, "S3Prefix", null), plainBytes, runs).ConfigureAwait(false);
            await MeasurePipeChannel("dd bs=1M ← Pipe mode, RecordIO", store, plain, dataDir,
                new PipeChannelOptions("recordio", "None", "RecordIO", null, "S3Prefix", null), plainBytes, runs).ConfigureAwait(false);
            foreach (var o in plain)
            {
                File.Delete(store.PathOf(o.Location));
            }

            if (gzipMib > 0)
            {
                var gzObjects = 4;
                var raw = CreateObjects(store, "gz", gzObjects, (long)gzipMib * (1 << 20) / gzObjects, compressible: true);
                var rawBytes = raw.Sum(o => o.Size);
                await Shell(string.Join(" & ", raw.Select(o => "gzip -6 " + Quote(store.PathOf(o.Location)))) + "; wait").ConfigureAwait(false);
                var gz = raw.Select(o => new ObjectInfo(o.Location with { Key = o.Location.Key + ".gz" }, new FileInfo(store.PathOf(o.Location) + ".gz").Length, o.LastModified)).ToList();
                var gzFiles = string.Join(' ', gz.Select(o => Quote(store.PathOf(o.Location))));
                await Shell($"cat {gzFiles} > /dev/null").ConfigureAwait(false);
                Console.WriteLine($"gzip: {gzObjects} objects, {rawBytes / (double)(1 << 20):F0} MiB uncompressed, {gz.Sum(o => o.Size) / (double)(1 << 20):F0} MiB gzip -6; rates are uncompressed output bytes");
                await Measure("gzip -dc files > /dev/null", rawBytes, runs, () => Shell($"gzip -dc {gzFiles} > /dev/null")).ConfigureAwait(false);
                await Measure("gzip -dc files | dd of=/dev/null bs=1M", rawBytes, runs, () => Shell($"gzip -dc {gzFiles} | dd of=/dev/null bs=1M status=none")).ConfigureAwait(false);
                await MeasurePipeChannel("PipeChannel Gzip → FIFO → dd of=/dev/null bs=1M", store, gz, dataDir,
                    new PipeChannelOptions("gzip", "Gzip", "None", null, "S3Prefix", null), rawBytes, runs).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    // The readers algorithms use: unbuffered read(n) in a loop, a buffered file's readinto, NumPy's fromfile.
    private const string PythonReader = """
        import sys
        mode, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        if mode == "read":
            with open(path, "rb", buffering=0) as f:
                while f.read(n):
                    pass
        elif mode == "readinto":
            buf = bytearray(n)
            with open(path, "rb") as f:
                while f.readinto(buf):
                    pass
        else:
            import numpy
            with open(path, "rb") as f:
                while numpy.fromfile(f, dtype=numpy.uint8, count=n).size:
                    pass
        """;

    private static async Task<bool> Succeeds(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("/bin/bash", ["-c", command]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync().ConfigureAwait(false);
        return process.ExitCode == 0;
    }

    private static async Task MeasurePipeChannel(string name, IObjectStore store, IReadOnlyList<ObjectInfo> objects, string dataDir, PipeChannelOptions options, long bytes, int runs,
        Func<string, string>? reader = null)
    {
        reader ??= p => $"dd if={p} of=/dev/null bs=1M status=none";
        using var stop = new CancellationTokenSource();
        var channel = PipeChannel.RunAsync(store, objects, dataDir, options, NullLogger.Instance, stop.Token);
        var epoch = 0;
        await Measure(name, bytes, runs, async () =>
        {
            var path = PipeChannel.FifoPath(dataDir, options.ChannelName, epoch++);
            while (!File.Exists(path))
            {
                if (channel.IsCompleted)
                {
                    await channel.ConfigureAwait(false);
                }

                await Task.Delay(1).ConfigureAwait(false);
            }

            await Shell(reader(Quote(path))).ConfigureAwait(false);
        }).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await channel.ConfigureAwait(false);
    }

    private static async Task Measure(string name, long bytes, int runs, Func<Task> run)
    {
        var rates = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            await run().ConfigureAwait(false);
            rates.Add(bytes / watch.Elapsed.TotalSeconds / 1e9);
        }

        rates.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {rates[rates.Count / 2]:F2} GB/s | best {rates[^1]:F2} | runs {string.Join(", ", rates.Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))} |"));
    }

    private static List<ObjectInfo> CreateObjects(LocalObjectStore store, string prefix, int count, long size, bool compressible)
    {
        var objects = new List<ObjectInfo>();
        var random = new Random(1);
        var block = new byte[1 << 20];
        var words = "the quick brown fox jumps over lazy dog pipe mode record epoch shard gzip tensor model data 0 1 2 3 4 5 6 7 8 9 ,\n".Split(' ');
        for (var i = 0; i < count; i++)
        {
            var location = new S3Location("bucket", $"{prefix}/part-{i:D3}");
            var path = store.PathOf(location);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0))
            {
                for (long written = 0; written < size; written += block.Length)
                {
                    if (compressible)
                    {
                        var at = 0;
                        while (at < block.Length)
                        {
                            var word = words[random.Next(words.Length)];
                            for (var c = 0; c < word.Length && at < block.Length; c++)
                            {
                                block[at++] = (byte)word[c];
                            }

                            if (at < block.Length)
                            {
                                block[at++] = (byte)' ';
                            }
                        }
                    }
                    else
                    {
                        random.NextBytes(block);
                    }

                    file.Write(block, 0, (int)Math.Min(block.Length, size - written));
                }
            }

            objects.Add(new ObjectInfo(location, size, DateTimeOffset.UtcNow));
        }

        return objects;
    }

    private static async Task Shell(string command)
    {
        using var process = Process.Start(new ProcessStartInfo("/bin/bash", ["-c", command]) { RedirectStandardError = true })!;
        var error = await process.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{command}` failed ({process.ExitCode}): {error}");
        }
    }

    private static string Quote(string path) => "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static double Option(string[] args, string name, double fallback) =>
        OptionString(args, name) is { } value ? double.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private static string? OptionString(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
