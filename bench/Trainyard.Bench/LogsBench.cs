using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Trainyard.Api;
using Trainyard.Jobs;

namespace Trainyard.Bench;

/// <summary>
/// Issue 15's log target: a job's host writes <c>lines</c> log lines through the real job path (algorithm
/// stdout → host runtime → the timestamped log store); then a raw HTTP client pages the stream to its end
/// with CloudWatch Logs' GetLogEvents (startFromHead, CloudWatch's default page of up to 10,000 events or
/// 1 MB, following nextForwardToken until it comes back unchanged), parsing every page.
/// Usage: logs [lines=1000000] [runs=3]
/// </summary>
internal static class LogsBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var lines = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var root = Path.Combine(Path.GetTempPath(), "trainyard-bench-logs-" + Environment.ProcessId);
        var image = Path.Combine(root, "image");
        Directory.CreateDirectory(image);
        var train = Path.Combine(image, "train");
        File.WriteAllText(train, $$"""
            #!/usr/bin/python3 -S
            import sys
            w = sys.stdout.write
            for i in range({{lines}}):
                w(f"[{i:07d}] epoch={i // 10000} step={i} loss={1.0 / (i + 1):.6f} lr=0.001 throughput=1234.5 samples/s\n")
            sys.stdout.flush()
            """);
        File.SetUnixFileMode(train, (UnixFileMode)0b111_101_101);
        try
        {
            await using var server = await TrainyardServer.StartAsync(new TrainyardOptions { Home = Path.Combine(root, "home") });
            using var http = new HttpClient { BaseAddress = server.Address };
            var body = $$"""
                {"TrainingJobName": "logs", "RoleArn": "arn:aws:iam::123456789012:role/r",
                 "AlgorithmSpecification": {"TrainingImage": "{{image}}", "TrainingInputMode": "File"},
                 "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
                 "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                 "StoppingCondition": {"MaxRuntimeInSeconds": 3600} }
                """;
            using (var response = await BenchApi.CallAsync(http, "CreateTrainingJob", body))
            {
                response.EnsureSuccessStatusCode();
            }

            while (server.Store.Get("logs") is not { IsTerminal: true })
            {
                await Task.Delay(20);
            }

            var done = server.Store.Get("logs")!;
            var seconds = (done.Transitions.First(t => t.Status == SecondaryStatus.Uploading).StartTime - done.Transitions.First(t => t.Status == SecondaryStatus.Training).StartTime).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"write: {lines} lines through the host runtime into the log store in {seconds:F2} s = {lines / seconds:F0} lines/s (status {done.Status})"));

            var stream = "logs/" + Path.GetFileNameWithoutExtension(Directory.GetFiles(Path.Combine(server.Jobs.Options.JobDirectory("logs"), "logs"), "*.log").Single());
            var rates = new List<double>();
            for (var run = 0; run < runs; run++)
            {
                var (events, pages, bytes, elapsed) = await PageAsync(http, stream);
                rates.Add(events / elapsed.TotalSeconds);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"GetLogEvents run {run + 1}: {events} events in {pages} pages ({bytes / 1e6:F1} MB of JSON) in {elapsed.TotalSeconds:F2} s = {events / elapsed.TotalSeconds:F0} events/s"));
            }

            rates.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"GetLogEvents: median {rates[rates.Count / 2]:F0} events/s (min {rates[0]:F0}, max {rates[^1]:F0}) over {runs} runs; target ≥ 50,000"));
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(long Events, int Pages, long Bytes, TimeSpan Elapsed)> PageAsync(HttpClient http, string stream)
    {
        var sw = Stopwatch.StartNew();
        string? token = null;
        long events = 0, bytes = 0;
        var pages = 0;
        while (true)
        {
            var request = token is null
                ? $$"""{"logGroupName":"/aws/sagemaker/TrainingJobs","logStreamName":"{{stream}}","startFromHead":true}"""
                : $$"""{"logGroupName":"/aws/sagemaker/TrainingJobs","logStreamName":"{{stream}}","startFromHead":true,"nextToken":"{{token}}"}""";
            using var message = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(request, Encoding.UTF8) };
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
            message.Headers.Add("X-Amz-Target", "Logs_20140328.GetLogEvents");
            using var response = await http.SendAsync(message);
            response.EnsureSuccessStatusCode();
            var payload = await response.Content.ReadAsByteArrayAsync();
            bytes += payload.Length;
            pages++;
            using var document = JsonDocument.Parse(payload);
            var count = document.RootElement.GetProperty("events").GetArrayLength();
            events += count;
            var next = document.RootElement.GetProperty("nextForwardToken").GetString();
            if (next == token)
            {
                return (events, pages, bytes, sw.Elapsed);
            }

            token = next;
        }
    }
}
