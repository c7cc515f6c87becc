using System.Diagnostics;
using System.Globalization;
using Trainyard.Api;

namespace Trainyard.Bench;

/// <summary>
/// Time from CreateTrainingJob returning to the algorithm's first instruction, on the local executor
/// with a sandboxed host. The algorithm records CLOCK_REALTIME as its first act; the client records it
/// as Create returns. Usage: startup [runs=30] [sh|python|both|site|script|scriptmode] [channel|nochannel].
/// <c>scriptmode</c> compares <c>site</c> (the same Python program as an executable <c>train</c>, with its
/// site import) with <c>script</c> (a SageMaker framework image in script mode: the program in a
/// sourcedir.tar.gz fetched from the store, run as <c>python3 train.py</c> with the toolkit's environment).
/// A fourth argument picks how local hosts run: <c>process</c> (a <c>trainyard host</c> process per host, the
/// default of <c>serve</c> and <c>run</c>: the ReadyToRun build <c>./trainyard</c> makes, or
/// <c>$TRAINYARD_EXECUTABLE</c>), <c>inprocess</c> (<c>--hosts-in-process</c>), or <c>both</c> (round-robin, one
/// server each).
/// </summary>
internal static class StartupBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 30;
        var kinds = args.Length > 1
            ? args[1] switch { "both" => new[] { "sh", "python" }, "scriptmode" => ["site", "script"], var one => [one] }
            : ["sh", "python"];
        var withChannel = args.Length <= 2 || args[2] != "nochannel";
        var modes = args.Length > 3 ? args[3] switch { "both" => new[] { "inprocess", "process" }, var one => [one] } : ["process"];
        var root = Path.Combine(Path.GetTempPath(), "trainyard-bench-startup-" + Environment.ProcessId);
        Directory.CreateDirectory(root);
        var servers = new List<(string Mode, TrainyardServer Server, HttpClient Http)>();
        try
        {
            foreach (var mode in modes)
            {
                var home = Path.Combine(root, "home-" + mode);
                WriteSourceDirectory(Path.Combine(home, "objects", "bench", "source", "sourcedir.tar.gz"));
                var data = Path.Combine(home, "objects", "bench", "empty-channel");
                Directory.CreateDirectory(data);
                File.WriteAllText(Path.Combine(data, "tiny.csv"), "1\n");
                var server = await TrainyardServer.StartAsync(new TrainyardOptions
                {
                    Home = home,
                    HostExecutable = mode == "process" ? HostExecutable() : null,
                    StopJobsOnExit = true,
                });
                servers.Add((mode, server, new HttpClient { BaseAddress = server.Address }));
            }

            var images = new Dictionary<string, string>
            {
                // Bash's EPOCHREALTIME is read without starting another process.
                ["sh"] = WriteImage(root, "sh", "#!/bin/bash\necho $EPOCHREALTIME > /opt/ml/model/t\n"),
                ["python"] = WriteImage(root, "python", "#!/usr/bin/python3 -S\n" + PythonProgram),
                ["site"] = WriteImage(root, "site", "#!/usr/bin/python3\n" + PythonProgram),
                ["script"] = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            };
            // Warm up (JIT, the sandbox, the page cache), then round-robin: run 1 of each kind on each server, run 2 …
            foreach (var (mode, server, http) in servers)
            {
                foreach (var kind in kinds)
                {
                    for (var i = 0; i < 3; i++)
                    {
                        await MeasureAsync(http, server, images[kind], withChannel, $"warm-{kind}-{i}", kind == "script");
                    }
                }
            }

            var samples = servers.SelectMany(s => kinds.Select(k => (s.Mode, k))).ToDictionary(x => x, _ => new List<double>());
            for (var i = 0; i < runs; i++)
            {
                foreach (var (mode, server, http) in servers)
                {
                    foreach (var kind in kinds)
                    {
                        samples[(mode, kind)].Add(await MeasureAsync(http, server, images[kind], withChannel, $"run-{kind}-{i}", kind == "script"));
                    }
                }
            }

            foreach (var ((mode, kind), list) in samples)
            {
                var sorted = list.Order().ToList();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"startup hosts={mode} algorithm={kind} channel={withChannel} runs={runs}: median {sorted[runs / 2]:F1} ms, p90 {sorted[(int)(runs * 0.9)]:F1} ms, min {sorted[0]:F1} ms, max {sorted[^1]:F1} ms"));
            }
        }
        finally
        {
            foreach (var (_, server, http) in servers)
            {
                http.Dispose();
                await server.DisposeAsync();
            }

            Directory.Delete(root, recursive: true);
        }

        return 0;
    }

    /// <summary>The trainyard executable users run: <c>$TRAINYARD_EXECUTABLE</c>, or the ReadyToRun build of <c>./trainyard</c>.</summary>
    private static string HostExecutable()
    {
        if (Environment.GetEnvironmentVariable("TRAINYARD_EXECUTABLE") is { Length: > 0 } configured)
        {
            return configured;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "artifacts", "bin", "trainyard");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("No trainyard executable: run ./trainyard --help once (it builds artifacts/bin/trainyard) or set TRAINYARD_EXECUTABLE.");
    }

    private const string PythonProgram = "import time\nt = time.time()\nopen('/opt/ml/model/t', 'w').write(repr(t))\n";

    /// <summary>What the SDK uploads for entry_point="train.py": a tar.gz of the source directory.</summary>
    private static void WriteSourceDirectory(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var file = File.Create(path);
        using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Optimal);
        using var tar = new System.Formats.Tar.TarWriter(gzip);
        var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "train.py")
        {
            DataStream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(PythonProgram)),
        };
        tar.WriteEntry(entry);
    }

    private static string WriteImage(string root, string name, string script)
    {
        var dir = Path.Combine(root, "images", name);
        Directory.CreateDirectory(dir);
        var train = Path.Combine(dir, "train");
        File.WriteAllText(train, script);
        File.SetUnixFileMode(train, (UnixFileMode)0b111_101_101);
        return dir;
    }

    private static async Task<double> MeasureAsync(HttpClient http, TrainyardServer server, string image, bool withChannel, string name, bool scriptMode)
    {
        var hyperParameters = scriptMode
            ? $$""", "HyperParameters": {"sagemaker_program": "\"train.py\"", "sagemaker_submit_directory": "\"s3://bench/source/sourcedir.tar.gz\"", "sagemaker_container_log_level": "20", "sagemaker_job_name": "\"{{name}}\"", "sagemaker_region": "\"us-east-1\"", "epochs": "3"}"""
            : "";
        var channel = withChannel
            ? """, "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/empty-channel/"}}}]"""
            : "";
        var body = $$"""
            {"TrainingJobName": "{{name}}", "RoleArn": "arn:aws:iam::123456789012:role/r",
             "AlgorithmSpecification": {"TrainingImage": "{{image}}", "TrainingInputMode": "File"},
             "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
             "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
             "StoppingCondition": {"MaxRuntimeInSeconds": 60}{{channel}}{{hyperParameters}}}
            """;
        using var response = await BenchApi.CallAsync(http, "CreateTrainingJob", body);
        var returned = DateTimeOffset.UtcNow;
        response.EnsureSuccessStatusCode();
        var sw = Stopwatch.StartNew();
        while (server.Store.Get(name) is not { IsTerminal: true })
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"job {name} did not end");
            }

            await Task.Delay(2);
        }

        var started = double.Parse(ReadMarker(server, name), CultureInfo.InvariantCulture);
        return (started - (returned - DateTimeOffset.UnixEpoch).TotalSeconds) * 1000.0;
    }

    /// <summary>The timestamp the algorithm wrote to /opt/ml/model/t, from the job's model.tar.gz.</summary>
    internal static string ReadMarker(TrainyardServer server, string name)
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
}
