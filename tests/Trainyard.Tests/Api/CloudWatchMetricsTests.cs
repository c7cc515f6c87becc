using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>CloudWatch metrics (query protocol) from the jobs' metric series, and STS GetCallerIdentity, with boto3, the AWS CLI and raw HTTP.</summary>
public sealed class CloudWatchMetricsTests
{
    private const string Namespace = "/aws/sagemaker/TrainingJobs";

    private static async Task<(TestServer Server, TempDirectory Dir, string Job)> RunJobAsync()
    {
        var server = await TestServer.StartAsync();
        var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, """
            #!/bin/sh
            n=${SM_CURRENT_HOST#algo-}
            for i in 1 2 3 4 5; do echo "epoch=$i loss=$(( 10 * n + i )).5 acc=0.$i"; done
            """);
        var name = TestJobs.UniqueName("metrics");
        var request = TestJobs.Request(name, image, instances: 2);
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(
            new JsonObject { ["Name"] = "train:loss", ["Regex"] = "loss=([0-9.]+)" },
            new JsonObject { ["Name"] = "train:acc", ["Regex"] = "acc=([0-9.]+)" });
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Completed", job["TrainingJobStatus"]!.GetValue<string>());
        return (server, dir, name);
    }

    /// <summary>sagemaker.analytics.TrainingJobAnalytics: its Describe reads, then GetMetricStatistics per metric, Period 60, Average.</summary>
    [Fact]
    public async Task TrainingJobAnalytics_SdkCalls_AveragesPerMinuteOfEveryHost()
    {
        var (server, dir, name) = await RunJobAsync();
        await using var _ = server;
        using var __ = dir;
        const string script = """
            import boto3, datetime, json, os, sys
            endpoint, job = os.environ["ENDPOINT"], sys.argv[1]
            sm = boto3.client("sagemaker", endpoint_url=endpoint)
            cw = boto3.client("cloudwatch", endpoint_url=endpoint)
            d = sm.describe_training_job(TrainingJobName=job)
            start, end = d["TrainingStartTime"], d["TrainingEndTime"] + datetime.timedelta(minutes=1)
            out = {}
            for metric in [m["Name"] for m in d["AlgorithmSpecification"]["MetricDefinitions"]]:
                points = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName=metric,
                    Dimensions=[{"Name": "TrainingJobName", "Value": job}], StartTime=start, EndTime=end, Period=60,
                    Statistics=["Average"])["Datapoints"]
                out[metric] = [{"t": p["Timestamp"].timestamp(), "avg": p["Average"], "unit": p["Unit"]} for p in points]
            host = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:loss",
                Dimensions=[{"Name": "Host", "Value": job + "/algo-2"}], StartTime=start, EndTime=end, Period=60,
                Statistics=["Minimum", "Maximum", "Sum", "SampleCount", "Average"], ExtendedStatistics=["p50"])["Datapoints"]
            both = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:loss",
                Dimensions=[{"Name": "TrainingJobName", "Value": job}, {"Name": "Host", "Value": job + "/algo-2"}],
                StartTime=start, EndTime=end, Period=60, Statistics=["Average"])["Datapoints"]
            listed = cw.list_metrics(Namespace="/aws/sagemaker/TrainingJobs", Dimensions=[{"Name": "TrainingJobName", "Value": job}])["Metrics"]
            hosts = cw.list_metrics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="train:loss", Dimensions=[{"Name": "Host"}])["Metrics"]
            print(json.dumps({"metrics": out, "host": [{k: (v.timestamp() if k == "Timestamp" else v) for k, v in p.items()} for p in host],
                "both": len(both), "listed": listed, "hosts": hosts}))
            """;
        var result = await Boto3.JsonAsync(server.Address, script, name);

        // What the job's series says, averaged per minute as CloudWatch does.
        var (_, series) = await server.CallAsync("", new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), "Trainyard.GetTrainingJobMetrics");
        var points = series!["Metrics"]!.AsArray().Select(p => (Name: p!["MetricName"]!.GetValue<string>(), Host: p["Host"]!.GetValue<string>(),
            Value: p["Value"]!.GetValue<double>(), Time: p["Timestamp"]!.GetValue<double>())).ToList();
        Assert.Equal(20, points.Count);
        foreach (var metric in new[] { "train:loss", "train:acc" })
        {
            var expected = points.Where(p => p.Name == metric).GroupBy(p => Math.Floor(p.Time / 60) * 60).OrderBy(g => g.Key)
                .Select(g => (g.Key, g.Average(p => p.Value))).ToList();
            var actual = result["metrics"]![metric]!.AsArray().Select(p => (p!["t"]!.GetValue<double>(), p["avg"]!.GetValue<double>())).OrderBy(p => p.Item1).ToList();
            Assert.Equal(expected.Count, actual.Count);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Key, actual[i].Item1);
                Assert.Equal(expected[i].Item2, actual[i].Item2, 9);
            }
        }

        var host = result["host"]!.AsArray();
        Assert.Equal(5, host.Sum(p => p!["SampleCount"]!.GetValue<double>()));
        Assert.Equal(21.5, host.Min(p => p!["Minimum"]!.GetValue<double>()));
        Assert.Equal(25.5, host.Max(p => p!["Maximum"]!.GetValue<double>()));
        Assert.Equal(21.5 + 22.5 + 23.5 + 24.5 + 25.5, host.Sum(p => p!["Sum"]!.GetValue<double>()), 9);
        Assert.All(host, p => Assert.NotNull(p!["ExtendedStatistics"]!["p50"]));

        // CloudWatch matches dimension sets exactly: {TrainingJobName, Host} is not a set SageMaker publishes.
        Assert.Equal(0, result["both"]!.GetValue<int>());
        var listed = result["listed"]!.AsArray().Select(m => m!["MetricName"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(["train:acc", "train:loss"], listed);
        var hosts = result["hosts"]!.AsArray().Select(m => m!["Dimensions"]![0]!["Value"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal([name + "/algo-1", name + "/algo-2"], hosts);
    }

    [Fact]
    public async Task AwsCli_GetMetricStatisticsAndCallerIdentity()
    {
        var (server, dir, name) = await RunJobAsync();
        await using var _ = server;
        using var __ = dir;
        var now = DateTimeOffset.UtcNow;
        var stats = await AwsCli.JsonAsync(server.Address, "cloudwatch", "get-metric-statistics", "--namespace", Namespace, "--metric-name", "train:loss",
            "--dimensions", $"Name=TrainingJobName,Value={name}", "--start-time", now.AddHours(-1).ToString("O", CultureInfo.InvariantCulture),
            "--end-time", now.AddMinutes(5).ToString("O", CultureInfo.InvariantCulture), "--period", "3600", "--statistics", "Maximum", "SampleCount");
        var point = Assert.Single(stats["Datapoints"]!.AsArray());
        Assert.Equal(25.5, point!["Maximum"]!.GetValue<double>());
        Assert.Equal(10, point["SampleCount"]!.GetValue<double>());
        Assert.Equal("train:loss", stats["Label"]!.GetValue<string>());

        var metrics = await AwsCli.JsonAsync(server.Address, "cloudwatch", "list-metrics", "--namespace", Namespace);
        Assert.Contains(metrics["Metrics"]!.AsArray(), m => m!["Dimensions"]![0]!["Value"]!.GetValue<string>() == name);

        var identity = await AwsCli.JsonAsync(server.Address, "sts", "get-caller-identity");
        Assert.Equal("000000000000", identity["Account"]!.GetValue<string>());
        Assert.Equal("AKIDTRAINYARDTEST", identity["UserId"]!.GetValue<string>());
        Assert.StartsWith("arn:aws:iam::000000000000:", identity["Arn"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadInput_GetsTheQueryProtocolsXmlErrors()
    {
        await using var server = await TestServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address };

        async Task ExpectAsync(string service, string form, int status, string code, string message)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(form) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded") { CharSet = "utf-8" };
            request.Headers.TryAddWithoutValidation("Authorization",
                $"AWS4-HMAC-SHA256 Credential=AKIDTRAINYARDTEST/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == status, $"{form}: {(int)response.StatusCode} {text}");
            var error = XDocument.Parse(text).Root!;
            Assert.Equal("ErrorResponse", error.Name.LocalName);
            var ns = error.Name.Namespace;
            Assert.Equal(code, error.Element(ns + "Error")!.Element(ns + "Code")!.Value);
            Assert.Contains(message, error.Element(ns + "Error")!.Element(ns + "Message")!.Value, StringComparison.Ordinal);
            Assert.NotEmpty(error.Element(ns + "RequestId")!.Value);
        }

        const string Base = "Action=GetMetricStatistics&Version=2010-08-01&Namespace=%2Faws%2Fsagemaker%2FTrainingJobs&MetricName=loss";
        const string Times = "&StartTime=2024-01-01T00%3A00%3A00Z&EndTime=2024-01-01T01%3A00%3A00Z";
        await ExpectAsync("monitoring", Base + "&Period=60&Statistics.member.1=Average", 400, "MissingParameter", "The parameter StartTime is required.");
        await ExpectAsync("monitoring", Base + Times + "&Period=7&Statistics.member.1=Average", 400, "InvalidParameterValue", "Period must be 1, 5, 10, 30, or a multiple of 60");
        await ExpectAsync("monitoring", Base + Times + "&Period=60", 400, "InvalidParameterCombination", "Must specify either Statistics or ExtendedStatistics");
        await ExpectAsync("monitoring", Base + Times + "&Period=60&Statistics.member.1=Avg", 400, "ValidationError",
            "Value 'Avg' at 'statistics.1.member' failed to satisfy constraint: Member must satisfy enum value set: [SampleCount, Average, Sum, Minimum, Maximum]");
        await ExpectAsync("monitoring", Base + Times + "&Period=1&Statistics.member.1=Average", 400, "InvalidParameterCombination", "exceeds the limit of 1,440");
        await ExpectAsync("monitoring", Base + "&StartTime=2024-01-02T00%3A00%3A00Z&EndTime=2024-01-01T00%3A00%3A00Z&Period=60&Statistics.member.1=Average", 400,
            "InvalidParameterValue", "StartTime must be less than the parameter EndTime");
        await ExpectAsync("monitoring", Base + "&StartTime=yesterday&EndTime=2024-01-01T00%3A00%3A00Z&Period=60&Statistics.member.1=Average", 400, "InvalidParameterValue", "StartTime");
        await ExpectAsync("monitoring", "Action=PutMetricData&Version=2010-08-01", 400, "InvalidAction", "PutMetricData");
        await ExpectAsync("monitoring", "Version=2010-08-01", 400, "MissingAction", "Action");
        await ExpectAsync("sts", "Action=AssumeRole&Version=2011-06-15", 400, "InvalidAction", "AssumeRole");
        await ExpectAsync("monitoring", "Action=ListMetrics&Version=2010-08-01&NextToken=%21%21", 400, "InvalidParameterValue", "NextToken");
    }
}
