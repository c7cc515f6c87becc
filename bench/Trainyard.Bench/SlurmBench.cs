using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trainyard.Api;
using Trainyard.Executors;
using Trainyard.Jobs;
using Trainyard.Slurm;

namespace Trainyard.Bench;

/// <summary>
/// Issue 7's speed on the real test cluster. (1) Start overhead: CreateTrainingJob returning → the
/// algorithm running on every node, against plain sbatch of a script whose srun tasks record the same
/// instant. (2) 200 queued training jobs on 4 nodes: none lost or stuck, and DescribeTrainingJob latency
/// while they run. Usage: slurm [--runs 7] [--jobs 200] [--nice 10 (SlurmOptions.TaskNiceness)] [--trainyard artifacts/bin/trainyard]
/// </summary>
internal static class SlurmBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var runs = Arg(args, "--runs", 7);
        var jobs = Arg(args, "--jobs", 200);
        var trainyard = Path.GetFullPath(ArgString(args, "--trainyard") ?? "artifacts/bin/trainyard");
        var nice = Arg(args, "--nice", new SlurmOptions().TaskNiceness);
        if (!File.Exists(trainyard))
        {
            Console.Error.WriteLine($"{trainyard} does not exist: run ./trainyard --help once to build it, or pass --trainyard.");
            return 2;
        }

        var root = Path.Combine(Path.GetTempPath(), "trainyard-bench-slurm-" + Environment.ProcessId);
        Directory.CreateDirectory(root);
        try
        {
            var plain = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                plain.Add(await PlainSbatchAsync(root, i));
            }

            var executors = new Dictionary<string, Func<IServiceProvider, IExecutor>>
            {
                ["slurm"] = sp => new SlurmExecutor(new SlurmOptions { TrainyardExecutable = trainyard, PollInterval = TimeSpan.FromMilliseconds(500), TaskNiceness = nice }, sp.GetRequiredService<ILogger<SlurmExecutor>>()),
            };
            await using var server = await TrainyardServer.StartAsync(new TrainyardOptions { Home = Path.Combine(root, "home"), Executor = "slurm", MaxInstances = 1000 }, executors: executors);
            using var http = new HttpClient { BaseAddress = server.Address };
            var image = Path.Combine(root, "image");
            Directory.CreateDirectory(image);
            File.WriteAllText(Path.Combine(image, "train"), "#!/bin/bash\necho $EPOCHREALTIME > /opt/ml/model/start-$SM_CURRENT_HOST\n");
            File.SetUnixFileMode(Path.Combine(image, "train"), (UnixFileMode)0b111_101_101);
            var trainyardTimes = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                var name = $"start-{i}";
                var returned = await CreateAsync(http, name, image, 2);
                await WaitAsync(server, [name], TimeSpan.FromSeconds(60));
                var starts = Enumerable.Range(1, 2).Select(h => double.Parse(File.ReadAllText(Path.Combine(server.Jobs.Options.JobDirectory(name), "hosts", $"algo-{h}", "model", $"start-algo-{h}")), CultureInfo.InvariantCulture));
                trainyardTimes.Add((starts.Max() - returned) * 1000);
            }

            Report("plain sbatch (2 nodes, srun tasks record their start)", plain);
            Report("Trainyard CreateTrainingJob (2 hosts) → algorithm running on both nodes", trainyardTimes);

            // 200 jobs at once on 4 nodes, while a client keeps describing them.
            File.WriteAllText(Path.Combine(image, "train"), "#!/bin/bash\nsleep 0.2\necho done > /opt/ml/model/done\n");
            var names = Enumerable.Range(0, jobs).Select(i => $"queued-{i:D3}").ToList();
            var (gen2, paused) = (GC.CollectionCount(2), GC.GetTotalPauseDuration());
            var submitted = Stopwatch.StartNew();
            foreach (var name in names)
            {
                await CreateAsync(http, name, image, 1);
            }

            var latencies = new List<double>();
            using var describing = new CancellationTokenSource();
            var describer = Task.Run(async () =>
            {
                var i = 0;
                while (!describing.IsCancellationRequested)
                {
                    var body = $$"""{"TrainingJobName": "{{names[i++ % names.Count]}}"}""";
                    var sw = Stopwatch.StartNew();
                    using var response = await BenchApi.CallAsync(http, "DescribeTrainingJob", body);
                    response.EnsureSuccessStatusCode();
                    latencies.Add(sw.Elapsed.TotalMilliseconds);
                    await Task.Delay(5);
                }
            });
            await WaitAsync(server, names, TimeSpan.FromMinutes(20));
            var elapsed = submitted.Elapsed.TotalSeconds;
            await describing.CancelAsync();
            await describer;
            var completed = names.Count(n => server.Store.Get(n)!.Status == TrainingJobStatus.Completed);
            latencies.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{jobs} queued jobs on the 4-node cluster: {completed} Completed, {jobs - completed} not, in {elapsed:F1} s; DescribeTrainingJob during the run: {latencies.Count} calls, p50 {latencies[latencies.Count / 2]:F1} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F1} ms, max {latencies[^1]:F1} ms"));
            // What else shaped the tail: the machine's load and this process's garbage collections.
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"load average at the end: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; server GC ({(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, conserve memory {AppContext.GetData("GCConserveMemory") ?? Environment.GetEnvironmentVariable("DOTNET_GCConserveMemory") ?? "off"}): {GC.CollectionCount(2) - gen2} gen2 collections, {(GC.GetTotalPauseDuration() - paused).TotalMilliseconds:F0} ms paused in all"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        return 0;
    }

    private static async Task<double> PlainSbatchAsync(string root, int run)
    {
        var dir = Path.Combine(root, $"plain-{run}");
        Directory.CreateDirectory(dir);
        var script = Path.Combine(dir, "job.sh");
        File.WriteAllText(script, $"#!/bin/bash\nexec srun --ntasks=2 --ntasks-per-node=1 bash -c 'echo $EPOCHREALTIME > {dir}/start-$SLURM_PROCID'\n");
        var submitted = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalSeconds;
        var psi = new ProcessStartInfo("sbatch", ["--parsable", "--nodes=2", "--ntasks-per-node=1", $"--output={dir}/out", script]) { RedirectStandardOutput = true, UseShellExecute = false };
        using (var p = Process.Start(psi)!)
        {
            await p.WaitForExitAsync();
        }

        var files = new[] { Path.Combine(dir, "start-0"), Path.Combine(dir, "start-1") };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!files.All(f => File.Exists(f) && new FileInfo(f).Length > 0))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("plain sbatch job did not start");
            }

            await Task.Delay(20);
        }

        return (files.Max(f => double.Parse(File.ReadAllText(f), CultureInfo.InvariantCulture)) - submitted) * 1000;
    }

    private static async Task<double> CreateAsync(HttpClient http, string name, string image, int hosts)
    {
        var body = $$"""
            {"TrainingJobName": "{{name}}", "RoleArn": "arn:aws:iam::123456789012:role/r",
             "AlgorithmSpecification": {"TrainingImage": "{{image}}", "TrainingInputMode": "File"},
             "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
             "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": {{hosts}}, "VolumeSizeInGB": 1},
             "StoppingCondition": {"MaxRuntimeInSeconds": 3600} }
            """;
        using var response = await BenchApi.CallAsync(http, "CreateTrainingJob", body);
        var returned = (DateTimeOffset.UtcNow - DateTimeOffset.UnixEpoch).TotalSeconds;
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException(await response.Content.ReadAsStringAsync());
        }

        return returned;
    }

    private static async Task WaitAsync(TrainyardServer server, IReadOnlyList<string> names, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!names.All(n => server.Store.Get(n) is { IsTerminal: true }))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{names.Count(n => server.Store.Get(n) is not { IsTerminal: true })} jobs did not end");
            }

            await Task.Delay(100);
        }
    }

    private static void Report(string what, List<double> samples)
    {
        samples.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{what}: median {samples[samples.Count / 2]:F0} ms, min {samples[0]:F0} ms, max {samples[^1]:F0} ms ({samples.Count} runs)"));
    }

    private static int Arg(string[] args, string name, int fallback) =>
        ArgString(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static string? ArgString(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
