using System.Diagnostics;
using System.Globalization;
using Trainyard.Algorithms;
using Trainyard.Api;
using Trainyard.Jobs;
using Trainyard.Model;

namespace Trainyard.Bench;

/// <summary>
/// Issue 6's speed: (1) the hyperparameter/channel checks a job naming an algorithm adds to
/// CreateTrainingJob; (2) metric extraction keeping up with a host that writes lines as fast as it can,
/// with 10 metric definitions. Usage: algorithms [lines=1000000]
/// </summary>
internal static class AlgorithmBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        CheckCost();
        var lines = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        await MetricsThroughputAsync(lines);
        return 0;
    }

    private static void CheckCost()
    {
        var spec = new TrainingSpecification
        {
            TrainingImage = "/x",
            SupportedTrainingInstanceTypes = ["ml.m5.large", "ml.m5.xlarge", "ml.c5.xlarge"],
            SupportedHyperParameters = Enumerable.Range(0, 20).Select(i => new HyperParameterSpecification
            {
                Name = $"hp{i}",
                Type = (i % 3) switch { 0 => "Integer", 1 => "Continuous", _ => "Categorical" },
                DefaultValue = (i % 3) switch { 0 => "5", 1 => "0.5", _ => "b" },
                Range = (i % 3) switch
                {
                    0 => new ParameterRange { IntegerParameterRangeSpecification = new MinMaxRange { MinValue = "0", MaxValue = "10" } },
                    1 => new ParameterRange { ContinuousParameterRangeSpecification = new MinMaxRange { MinValue = "0", MaxValue = "1" } },
                    _ => new ParameterRange { CategoricalParameterRangeSpecification = new CategoricalRange { Values = ["a", "b", "c"] } },
                },
            }).ToList(),
            TrainingChannels = new[] { "train", "validation", "test" }.Select(n => new ChannelSpecification { Name = n, SupportedContentTypes = ["text/csv"], SupportedInputModes = ["File", "Pipe"] }).ToList(),
        };
        var hps = Enumerable.Range(0, 10).ToDictionary(i => $"hp{i}", i => (i % 3) switch { 0 => "7", 1 => "0.25", _ => "c" });
        var channels = new[] { "train", "validation" }.Select(n => new Channel
        {
            ChannelName = n,
            ContentType = "text/csv",
            DataSource = new DataSource { S3DataSource = new S3DataSource { S3DataType = "S3Prefix", S3Uri = "s3://b/" + n } },
        }).ToList();
        var resources = new ResourceConfig { InstanceType = "ml.m5.large", InstanceCount = 1, VolumeSizeInGB = 1 };
        for (var i = 0; i < 20_000; i++)
        {
            AlgorithmChecks.CheckJob("a", spec, "File", hps, channels, resources);
        }

        const int Runs = 200_000;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < Runs; i++)
        {
            AlgorithmChecks.CheckJob("a", spec, "File", hps, channels, resources);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"algorithm checks (20 hyperparameter specs, 10 given, 2 channels): {sw.Elapsed.TotalMicroseconds / Runs:F2} µs per CreateTrainingJob"));
    }

    private static async Task MetricsThroughputAsync(int lines)
    {
        var root = Path.Combine(Path.GetTempPath(), "trainyard-bench-metrics-" + Environment.ProcessId);
        var image = Path.Combine(root, "image");
        Directory.CreateDirectory(image);
        var train = Path.Combine(image, "train");
        // Writes `lines` log lines as fast as Python can, one in ten a metric line for one of 10 metrics.
        File.WriteAllText(train, $$"""
            #!/usr/bin/python3 -S
            import sys, time
            w = sys.stdout.write
            t = time.time()
            for i in range({{lines}}):
                if i % 10 == 0:
                    w(f"step={i} metric{i % 100 // 10}={i * 0.001:.3f} lr=0.1\n")
                else:
                    w(f"step={i} some ordinary log line with a little text in it\n")
            sys.stdout.flush()
            sys.stderr.write(f"wrote {{lines}} lines in {time.time() - t:.3f} s\n")
            """);
        File.SetUnixFileMode(train, (UnixFileMode)0b111_101_101);
        try
        {
            await using var server = await TrainyardServer.StartAsync(new TrainyardOptions { Home = Path.Combine(root, "home") });
            using var http = new HttpClient { BaseAddress = server.Address };
            var metrics = string.Join(",", Enumerable.Range(0, 10).Select(i => "{\"Name\": \"m" + i + "\", \"Regex\": \"metric" + i + "=([0-9.]+)\"}"));
            var body = $$"""
                {"TrainingJobName": "metrics", "RoleArn": "arn:aws:iam::123456789012:role/r",
                 "AlgorithmSpecification": {"TrainingImage": "{{image}}", "TrainingInputMode": "File", "MetricDefinitions": [{{metrics}}]},
                 "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
                 "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                 "StoppingCondition": {"MaxRuntimeInSeconds": 600} }
                """;
            using (var response = await BenchApi.CallAsync(http, "CreateTrainingJob", body))
            {
                response.EnsureSuccessStatusCode();
            }
            while (server.Store.Get("metrics") is not { IsTerminal: true } job)
            {
                await Task.Delay(20);
            }

            var done = server.Store.Get("metrics")!;
            var training = done.Transitions.First(t => t.Status == SecondaryStatus.Training).StartTime;
            var seconds = (done.Transitions.First(t => t.Status == SecondaryStatus.Uploading).StartTime - training).TotalSeconds;
            var logged = File.ReadLines(Directory.GetFiles(Path.Combine(server.Jobs.Options.JobDirectory("metrics"), "logs"), "*.log")[0]).Count(l => !l.StartsWith("[trainyard]", StringComparison.Ordinal) && !l.StartsWith("wrote", StringComparison.Ordinal));
            var points = File.ReadLines(Path.Combine(server.Jobs.Options.JobDirectory("metrics"), "metrics.jsonl")).Count();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"metrics: {lines} lines ({lines / 10} metric points, 10 definitions) through the host log pipeline in {seconds:F2} s = {lines / seconds:F0} lines/s; logged {logged}, points {points}, status {done.Status}"));
            Console.WriteLine(File.ReadLines(Directory.GetFiles(Path.Combine(server.Jobs.Options.JobDirectory("metrics"), "logs"), "*.log")[0]).First(l => l.StartsWith("wrote", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
