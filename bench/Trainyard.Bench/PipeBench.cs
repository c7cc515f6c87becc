using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.DataPlane.Pipe;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// Pipe mode throughput: local store → FIFO → the readers algorithms use (dd, Python, NumPy, a RecordIO
/// record reader), each beside its ceiling (the same reader on the same bytes as files in the page cache)
/// and <c>cat files &gt; fifo</c> into it; for gzip, beside <c>gzip -dc</c>. Data lives in a temp directory
/// and is deleted afterwards; the page cache is warmed first so the numbers measure the data path, not the disk.
/// Pipe rows list their runs in epoch order (the first is epoch 0); other rows list them sorted.
/// </summary>
internal static class PipeBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var gib = Option(args, "--gib", 2.0);
        var objectCount = (int)Option(args, "--objects", 8);
        var gzipMib = (int)Option(args, "--gzip-mib", 512);
        var runs = (int)Option(args, "--runs", 3);
        var recordKib = (int)Option(args, "--record-kib", 256);
        var sections = (OptionString(args, "--only") ?? "readers,recordio,gzip").Split(',');
        var baseDir = OptionString(args, "--dir") ?? Path.GetTempPath();
        var root = Path.Combine(baseDir, "trainyard-bench-pipe-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var store = new LocalObjectStore(Path.Combine(root, "store"));
            var dataDir = Path.Combine(root, "data");
            Directory.CreateDirectory(dataDir);

            Console.WriteLine($"# pipe benchmark: {Environment.ProcessorCount} cores, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, pipe-max-size {File.ReadAllText("/proc/sys/fs/pipe-max-size").Trim()}, loadavg {File.ReadAllText("/proc/loadavg").Trim()}");
            var objectSize = (long)(gib * (1L << 30)) / objectCount;
            var plain = sections.Contains("readers") ? CreateObjects(store, "plain", objectCount, objectSize, compressible: false) : [];
            var plainBytes = plain.Sum(o => o.Size);
            var plainFiles = string.Join(' ', plain.Select(o => Quote(store.PathOf(o.Location))));
            var fifo = Path.Combine(root, "catfifo");
            var readerScript = Path.Combine(root, "reader.py");
            File.WriteAllText(readerScript, PythonReader);
            if (sections.Contains("readers"))
            {
                await Shell($"cat {plainFiles} > /dev/null").ConfigureAwait(false);
                Console.WriteLine($"uncompressed: {objectCount} objects, {plainBytes / (double)(1L << 30):F2} GiB (page cache warm)");
                await MeasureReadersAsync(store, plain, plainFiles, fifo, readerScript, dataDir, runs).ConfigureAwait(false);
            }

            if (sections.Contains("recordio"))
            {
                await MeasureRecordIOAsync(store, (long)(gib * (1L << 30)), recordKib, root, fifo, readerScript, dataDir, runs).ConfigureAwait(false);
            }

            if (gzipMib > 0 && sections.Contains("gzip"))
            {
                await MeasureGzipAsync(store, gzipMib, dataDir, runs).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task MeasureReadersAsync(LocalObjectStore store, List<ObjectInfo> plain, string plainFiles, string fifo, string readerScript, string dataDir, int runs)
    {
        var plainBytes = plain.Sum(o => o.Size);
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
            readers.Add(("numpy frombuffer(read(1 MiB))", p => $"/usr/bin/python3 {readerScript} numpy {1 << 20} {p}"));
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
                () => Shell($"rm -f {fifo}; mkfifo {fifo}; {command(fifo)} & reader=$!; cat {plainFiles} > {fifo}; wait $reader; status=$?; rm -f {fifo}; exit $status")).ConfigureAwait(false);
            await MeasurePipeChannel($"{readerName} ← Pipe mode, local store (epochs 0..{runs - 1})", store, plain, dataDir,
                new PipeChannelOptions("plain", "None", "None", null, "S3Prefix", null), plainBytes, runs, command).ConfigureAwait(false);
        }

        await MeasurePipeChannel("dd bs=1M ← Pipe mode, streaming store (read/write path, as S3)", new StreamingStore(store), plain, dataDir,
            new PipeChannelOptions("stream", "None", "None", null, "S3Prefix", null), plainBytes, runs).ConfigureAwait(false);
        foreach (var o in plain)
        {
            File.Delete(store.PathOf(o.Location));
        }
    }

    // RecordIO (RecordWrapperType RecordIO: each object one record): the ceiling and `cat > fifo` read .rec files
    // holding exactly the frames Pipe mode sends (written by RecordIOWriter, as dmlc-core writes them).
    private static async Task MeasureRecordIOAsync(LocalObjectStore store, long bytes, int recordKib, string root, string fifo, string readerScript, string dataDir, int runs)
    {
        var recordSize = (long)recordKib << 10;
        var count = (int)Math.Max(1, bytes / recordSize);
        var objects = CreateObjects(store, "rec", count, recordSize, compressible: false);
        const int RecFiles = 8;
        var recFiles = new List<(string Path, int Records)>();

        // Pipe mode sends the objects in listing order; file f holds the f-th eighth of them, in that order.
        var perFile = (count + RecFiles - 1) / RecFiles;
        for (var f = 0; f * perFile < count; f++)
        {
            var path = Path.Combine(root, $"part-{f}.rec");
            var slice = objects.Skip(f * perFile).Take(perFile).ToList();
            await using (var file = File.Create(path))
            {
                var writer = new RecordIOWriter(file);
                foreach (var o in slice)
                {
                    await writer.WriteRecordAsync(await File.ReadAllBytesAsync(store.PathOf(o.Location)).ConfigureAwait(false), CancellationToken.None).ConfigureAwait(false);
                }
            }

            recFiles.Add((path, slice.Count));
        }

        var recBytes = recFiles.Sum(f => new FileInfo(f.Path).Length);
        var catFiles = string.Join(' ', recFiles.Select(f => Quote(f.Path)));
        await Shell($"cat {catFiles} > /dev/null; find {Quote(Path.GetDirectoryName(store.PathOf(objects[0].Location))!)} -type f -exec cat {{}} + > /dev/null").ConfigureAwait(false);
        Console.WriteLine($"RecordIO: {count} objects of {recordKib} KiB, one record each; {recBytes / (double)(1L << 30):F2} GiB of frames (page cache warm); rates are frame bytes");
        string Reader(string path, int records) => $"/usr/bin/python3 {readerScript} recordio {records} {path}";
        const string Name = "python RecordIO records (buffered)";
        await Measure($"{Name} ← .rec files in the page cache (ceiling)", recBytes, runs,
            () => Shell(string.Join(" && ", recFiles.Select(f => Reader(Quote(f.Path), f.Records))))).ConfigureAwait(false);
        await Measure($"{Name} ← cat .rec files > fifo", recBytes, runs,
            () => Shell($"rm -f {fifo}; mkfifo {fifo}; {Reader(fifo, count)} & reader=$!; cat {catFiles} > {fifo}; wait $reader; status=$?; rm -f {fifo}; exit $status")).ConfigureAwait(false);
        await MeasurePipeChannel($"{Name} ← Pipe mode RecordIO, local store (epochs 0..{runs - 1})", store, objects, dataDir,
            new PipeChannelOptions("recordio", "None", "RecordIO", null, "S3Prefix", null), recBytes, runs, p => Reader(p, count)).ConfigureAwait(false);
        await MeasurePipeChannel($"dd bs=1M ← Pipe mode RecordIO, local store (epochs 0..{runs - 1})", store, objects, dataDir,
            new PipeChannelOptions("recordio-dd", "None", "RecordIO", null, "S3Prefix", null), recBytes, runs).ConfigureAwait(false);
        foreach (var o in objects)
        {
            File.Delete(store.PathOf(o.Location));
        }

        foreach (var f in recFiles)
        {
            File.Delete(f.Path);
        }
    }

    private static async Task MeasureGzipAsync(LocalObjectStore store, int gzipMib, string dataDir, int runs)
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

    // The readers algorithms use: unbuffered read(n) in a loop, a buffered file's readinto, NumPy over read(n),
    // and a RecordIO record reader (n: the records expected) in the manner of the SageMaker SDK's
    // sagemaker.amazon.common.read_recordio, but honouring the continuation flag and checking every frame.
    private const string PythonReader = """
        import struct, sys
        mode, n, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        if mode == "recordio":
            MAGIC = 0xced7230a
            records, parts = 0, []
            with open(path, "rb") as f:
                read = f.read
                while True:
                    header = read(8)
                    if not header:
                        break
                    magic, word = struct.unpack("<II", header)
                    cflag, length = word >> 29, word & ((1 << 29) - 1)
                    payload = read(length)
                    if magic != MAGIC or len(payload) != length:
                        sys.exit("not RecordIO, or truncated")
                    if length & 3:
                        read(4 - (length & 3))
                    if cflag == 0:
                        record = payload
                    elif cflag == 3:
                        record = struct.pack("<I", MAGIC).join(parts + [payload])
                        parts = []
                    else:
                        parts.append(payload)
                        continue
                    records += 1
            if records != n:
                sys.exit(f"{records} records, expected {n}")
        elif mode == "read":
            with open(path, "rb", buffering=0) as f:
                while f.read(n):
                    pass
        elif mode == "readinto":
            buf = bytearray(n)
            with open(path, "rb") as f:
                while f.readinto(buf):
                    pass
        else:
            # numpy.fromfile cannot read a FIFO (it asks the file for its position: ESPIPE), so NumPy code on a
            # Pipe channel wraps what a buffered file reads.
            import numpy
            with open(path, "rb") as f:
                while numpy.frombuffer(f.read(n), dtype=numpy.uint8).size:
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
        }, inOrder: true).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await channel.ConfigureAwait(false);
    }

    private static async Task Measure(string name, long bytes, int runs, Func<Task> run, bool inOrder = false)
    {
        var rates = new List<double>();
        var (ownCpu, childCpu) = (TimeSpan.Zero, TimeSpan.Zero);
        for (var i = 0; i < runs; i++)
        {
            var (own, children) = (Process.GetCurrentProcess().TotalProcessorTime, ChildrenCpu());
            var watch = Stopwatch.StartNew();
            await run().ConfigureAwait(false);
            rates.Add(bytes / watch.Elapsed.TotalSeconds / 1e9);
            ownCpu += Process.GetCurrentProcess().TotalProcessorTime - own;
            childCpu += ChildrenCpu() - children;
        }

        // CPU seconds per GB: the bench process (Pipe mode's producer and FIFO writer) and the commands it ran (readers, cat).
        var gb = bytes * (double)runs / 1e9;
        var sorted = rates.Order().ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {name} | {sorted[sorted.Count / 2]:F2} GB/s | best {sorted[^1]:F2} | runs {string.Join(", ", (inOrder ? rates : sorted).Select(r => r.ToString("F2", CultureInfo.InvariantCulture)))} | CPU s/GB: bench {ownCpu.TotalSeconds / gb:F2}, commands {childCpu.TotalSeconds / gb:F2} |"));
    }

    // utime + stime of the reaped children (fields 16 and 17 of /proc/self/stat), in clock ticks of 10 ms.
    private static TimeSpan ChildrenCpu()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
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
