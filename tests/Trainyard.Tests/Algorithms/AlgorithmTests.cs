using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Algorithms;

/// <summary>Algorithm resources: validation by real training jobs, and jobs that train with an algorithm by name.</summary>
public sealed class AlgorithmTests
{
    private const string Learner = """
        #!/usr/bin/python3
        import json, os, sys
        hp = json.load(open("/opt/ml/input/config/hyperparameters.json"))
        json.dump(hp, open("/opt/ml/model/hyperparameters-seen.json", "w"))
        rows = sum(1 for _ in open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv")))
        if hp.get("fail") == "yes":
            open("/opt/ml/output/failure", "w").write("AlgorithmError: asked to fail")
            sys.exit(2)
        for epoch in range(int(hp["epochs"])):
            print(f"epoch={epoch} loss={1.0 / (epoch + 1):.4f} rows={rows}", flush=True)
        print(f"accuracy: {0.5 + int(hp['epochs']) / 100:.2f}", flush=True)
        """;

    private static JsonObject Algorithm(string name, string image, bool withProfile = true, string profileEpochs = "3")
    {
        var algorithm = new JsonObject
        {
            ["AlgorithmName"] = name,
            ["AlgorithmDescription"] = "test learner",
            ["TrainingSpecification"] = new JsonObject
            {
                ["TrainingImage"] = image,
                ["SupportedHyperParameters"] = new JsonArray(
                    new JsonObject { ["Name"] = "epochs", ["Type"] = "Integer", ["IsRequired"] = true, ["Range"] = new JsonObject { ["IntegerParameterRangeSpecification"] = new JsonObject { ["MinValue"] = "1", ["MaxValue"] = "50" } } },
                    new JsonObject { ["Name"] = "rate", ["Type"] = "Continuous", ["DefaultValue"] = "0.25", ["Range"] = new JsonObject { ["ContinuousParameterRangeSpecification"] = new JsonObject { ["MinValue"] = "0", ["MaxValue"] = "1" } } },
                    new JsonObject { ["Name"] = "mode", ["Type"] = "Categorical", ["DefaultValue"] = "fast", ["Range"] = new JsonObject { ["CategoricalParameterRangeSpecification"] = new JsonObject { ["Values"] = new JsonArray("fast", "exact") } } },
                    new JsonObject { ["Name"] = "fail", ["Type"] = "FreeText" }),
                ["SupportedTrainingInstanceTypes"] = new JsonArray("ml.m5.large", "ml.m5.xlarge"),
                ["SupportsDistributedTraining"] = false,
                ["MetricDefinitions"] = new JsonArray(
                    new JsonObject { ["Name"] = "train:loss", ["Regex"] = "loss=([0-9.]+)" },
                    new JsonObject { ["Name"] = "accuracy", ["Regex"] = "accuracy: ([0-9.]+)" }),
                ["TrainingChannels"] = new JsonArray(
                    new JsonObject { ["Name"] = "train", ["IsRequired"] = true, ["SupportedContentTypes"] = new JsonArray("text/csv"), ["SupportedCompressionTypes"] = new JsonArray("None"), ["SupportedInputModes"] = new JsonArray("File") },
                    new JsonObject { ["Name"] = "validation", ["SupportedContentTypes"] = new JsonArray("text/csv"), ["SupportedInputModes"] = new JsonArray("File") }),
            },
        };
        if (withProfile)
        {
            algorithm["ValidationSpecification"] = new JsonObject
            {
                ["ValidationRole"] = "arn:aws:iam::123456789012:role/validator",
                ["ValidationProfiles"] = new JsonArray(new JsonObject
                {
                    ["ProfileName"] = "smoke",
                    ["TrainingJobDefinition"] = new JsonObject
                    {
                        ["TrainingInputMode"] = "File",
                        ["HyperParameters"] = new JsonObject { ["epochs"] = profileEpochs },
                        ["InputDataConfig"] = new JsonArray(TestJobs.Channel("train", "s3://data/train/")),
                        ["OutputDataConfig"] = new JsonObject { ["S3OutputPath"] = "s3://out/validation" },
                        ["ResourceConfig"] = new JsonObject { ["InstanceType"] = "ml.m5.large", ["InstanceCount"] = 1, ["VolumeSizeInGB"] = 1 },
                        ["StoppingCondition"] = new JsonObject { ["MaxRuntimeInSeconds"] = 60 },
                    },
                }),
            };
        }

        return algorithm;
    }

    private static async Task<JsonNode> WaitForAlgorithmAsync(TestServer server, string name)
    {
        JsonNode? described = null;
        await Poll.UntilAsync(() =>
        {
            described = server.CallAsync("DescribeAlgorithm", new JsonObject { ["AlgorithmName"] = name }).Result.Body;
            return described?["AlgorithmStatus"]?.GetValue<string>() is "Completed" or "Failed";
        }, TimeSpan.FromSeconds(60), $"algorithm {name} to be validated");
        return described!;
    }

    [Fact]
    public async Task CreateAlgorithm_WithAProfile_IsValidatedByARealJobAndTrainsByName()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Learner);
        server.PutObject("data", "train/data.csv", "1,2\n3,4\n");

        // Through the AWS CLI, as a user publishes one.
        var file = dir.Write("algorithm.json", Algorithm("learner", image).ToJsonString());
        var created = await AwsCli.JsonAsync(server.Address, "sagemaker", "create-algorithm", "--cli-input-json", "file://" + file);
        Assert.Equal("arn:aws:sagemaker:us-east-1:000000000000:algorithm/learner", created["AlgorithmArn"]!.GetValue<string>());
        var early = await AwsCli.JsonAsync(server.Address, "sagemaker", "describe-algorithm", "--algorithm-name", "learner");
        Assert.Contains(early["AlgorithmStatus"]!.GetValue<string>(), new[] { "Pending", "InProgress", "Completed" });

        var described = await WaitForAlgorithmAsync(server, "learner");
        Assert.True(described["AlgorithmStatus"]!.GetValue<string>() == "Completed", described.ToJsonString());
        var statuses = described["AlgorithmStatusDetails"]!["ValidationStatuses"]!.AsArray();
        Assert.Equal("smoke", statuses.Single()!["Name"]!.GetValue<string>());
        Assert.Equal("Completed", statuses.Single()!["Status"]!.GetValue<string>());

        // A job names the algorithm: defaults are filled in, metrics come from the algorithm.
        var name = TestJobs.UniqueName("by-algo");
        var request = TestJobs.Request(name, "unused", channels: [TestJobs.Channel("train", "s3://data/train/")], hyperParameters: new JsonObject { ["epochs"] = "4" });
        request["AlgorithmSpecification"] = new JsonObject { ["AlgorithmName"] = "learner", ["TrainingInputMode"] = "File" };
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name));
        var seen = JsonNode.Parse(TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["hyperparameters-seen.json"])!;
        Assert.Equal("4", seen["epochs"]!.GetValue<string>());
        Assert.Equal("0.25", seen["rate"]!.GetValue<string>());
        Assert.Equal("fast", seen["mode"]!.GetValue<string>());
        Assert.Equal("0.25", job["HyperParameters"]!["rate"]!.GetValue<string>());

        var metrics = job["FinalMetricDataList"]!.AsArray().ToDictionary(m => m!["MetricName"]!.GetValue<string>(), m => m!["Value"]!.GetValue<double>());
        Assert.Equal(0.25, metrics["train:loss"], 4);
        Assert.Equal(0.54, metrics["accuracy"], 4);

        var (status, series) = await server.CallAsync("x", new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), target: "Trainyard.GetTrainingJobMetrics");
        Assert.Equal(200, status);
        var losses = series!["Metrics"]!.AsArray().Where(p => p!["MetricName"]!.GetValue<string>() == "train:loss").Select(p => p!["Value"]!.GetValue<double>()).ToList();
        Assert.Equal([1.0, 0.5, 0.3333, 0.25], losses);
        Assert.All(series["Metrics"]!.AsArray(), p => Assert.Equal("algo-1", p!["Host"]!.GetValue<string>()));

        var cli = await TrainyardCli.RunAsync(dir.Path, "jobs", "metrics", name, "--endpoint-url", server.Address.ToString());
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        Assert.Contains("train:loss", cli.Stdout, StringComparison.Ordinal);
        Assert.Contains("0.3333", cli.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateTrainingJob_ViolatingTheAlgorithm_ReportsEveryProblemAtOnce()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Learner);
        server.PutObject("data", "train/data.csv", "1\n");
        server.PutObject("data", "extra/x.csv", "1\n");
        var (status, _) = await server.CallAsync("CreateAlgorithm", Algorithm("strict", image, withProfile: false));
        Assert.Equal(200, status);

        var request = TestJobs.Request("violations", "unused", instances: 2,
            channels: [TestJobs.Channel("extra", "s3://data/extra/")],
            hyperParameters: new JsonObject { ["epochs"] = "500", ["rate"] = "fast", ["mode"] = "slow", ["unknown"] = "1", ["sagemaker_program"] = "ok" });
        request["AlgorithmSpecification"] = new JsonObject { ["AlgorithmName"] = "arn:aws:sagemaker:us-east-1:000000000000:algorithm/strict", ["TrainingInputMode"] = "Pipe" };
        request["ResourceConfig"]!["InstanceType"] = "ml.p3.2xlarge";
        var (code, body) = await server.CallAsync("CreateTrainingJob", request);
        Assert.Equal(400, code);
        Assert.Equal("ValidationException", body!["__type"]!.GetValue<string>());
        var message = body["message"]!.GetValue<string>();
        Assert.Contains("'epochs' is 500, outside its range [1, 50]", message, StringComparison.Ordinal);
        Assert.Contains("'rate' must be Continuous", message, StringComparison.Ordinal);
        Assert.Contains("'mode' is 'slow'; it must be one of fast, exact", message, StringComparison.Ordinal);
        Assert.Contains("Hyperparameter 'unknown' is not supported", message, StringComparison.Ordinal);
        Assert.DoesNotContain("sagemaker_program", message, StringComparison.Ordinal);
        Assert.Contains("Channel 'extra' is not a training channel", message, StringComparison.Ordinal);
        Assert.Contains("Channel 'train' is required", message, StringComparison.Ordinal);
        Assert.Contains("Instance type ml.p3.2xlarge is not supported", message, StringComparison.Ordinal);
        Assert.Contains("does not support distributed training", message, StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get("violations"));

        // A required hyperparameter without a default, and an input mode the channel does not support.
        var second = TestJobs.Request("violations2", "unused", channels: [TestJobs.Channel("train", "s3://data/train/")]);
        second["AlgorithmSpecification"] = new JsonObject { ["AlgorithmName"] = "strict", ["TrainingInputMode"] = "Pipe" };
        (code, body) = await server.CallAsync("CreateTrainingJob", second);
        Assert.Equal(400, code);
        Assert.Contains("'epochs' is required", body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("uses input mode Pipe; algorithm 'strict' supports File", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAlgorithm_ProfileFailing_MakesTheAlgorithmFailedAndUnusable()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Learner);
        server.PutObject("data", "train/data.csv", "1\n");

        var failing = Algorithm("fails", image);
        failing["ValidationSpecification"]!["ValidationProfiles"]![0]!["TrainingJobDefinition"]!["HyperParameters"]!["fail"] = "yes";
        Assert.Equal(200, (await server.CallAsync("CreateAlgorithm", failing)).Status);
        var described = await WaitForAlgorithmAsync(server, "fails");
        Assert.Equal("Failed", described["AlgorithmStatus"]!.GetValue<string>());
        Assert.Contains("AlgorithmError: asked to fail", described["AlgorithmStatusDetails"]!["ValidationStatuses"]![0]!["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);

        var misfit = Algorithm("misfit", image, profileEpochs: "999");
        Assert.Equal(200, (await server.CallAsync("CreateAlgorithm", misfit)).Status);
        described = await WaitForAlgorithmAsync(server, "misfit");
        Assert.Equal("Failed", described["AlgorithmStatus"]!.GetValue<string>());
        Assert.Contains("outside its range", described["AlgorithmStatusDetails"]!["ValidationStatuses"]![0]!["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);

        var request = TestJobs.Request("uses-failed", "unused", channels: [TestJobs.Channel("train", "s3://data/train/")], hyperParameters: new JsonObject { ["epochs"] = "1" });
        request["AlgorithmSpecification"] = new JsonObject { ["AlgorithmName"] = "fails", ["TrainingInputMode"] = "File" };
        var (code, body) = await server.CallAsync("CreateTrainingJob", request);
        Assert.Equal(400, code);
        Assert.Contains("only a Completed algorithm can train", body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListAndDeleteAlgorithms_PageFilterSortDelete()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Learner);
        foreach (var name in new[] { "gamma", "alpha", "beta-one", "beta-two" })
        {
            Assert.Equal(200, (await server.CallAsync("CreateAlgorithm", Algorithm(name, image, withProfile: false))).Status);
        }

        var all = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-algorithms", "--sort-by", "Name", "--sort-order", "Ascending", "--page-size", "1");
        Assert.Equal(["alpha", "beta-one", "beta-two", "gamma"], all["AlgorithmSummaryList"]!.AsArray().Select(a => a!["AlgorithmName"]!.GetValue<string>()));
        Assert.All(all["AlgorithmSummaryList"]!.AsArray(), a => Assert.Equal("Completed", a!["AlgorithmStatus"]!.GetValue<string>()));
        var betas = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-algorithms", "--name-contains", "beta", "--sort-by", "Name", "--sort-order", "Descending");
        Assert.Equal(["beta-two", "beta-one"], betas["AlgorithmSummaryList"]!.AsArray().Select(a => a!["AlgorithmName"]!.GetValue<string>()));

        await AwsCli.JsonAsync(server.Address, "sagemaker", "delete-algorithm", "--algorithm-name", "alpha");
        var (code, body) = await server.CallAsync("DescribeAlgorithm", new JsonObject { ["AlgorithmName"] = "alpha" });
        Assert.Equal(400, code);
        Assert.Equal("ValidationException", body!["__type"]!.GetValue<string>());
    }

    [Fact]
    public async Task MetricDefinitions_BadRegexIsRefused_PathologicalRegexDoesNotStallLogs()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nfor i in 1 2 3; do echo \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa! value=$i\"; done\necho done\n");
        var bad = TestJobs.Request("bad-regex", image);
        bad["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "m", ["Regex"] = "value=([0-9" });
        var (code, body) = await server.CallAsync("CreateTrainingJob", bad);
        Assert.Equal(400, code);
        Assert.Contains("is not a valid regular expression", body!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var name = TestJobs.UniqueName("redos");
        var request = TestJobs.Request(name, image);
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(
            new JsonObject { ["Name"] = "catastrophic", ["Regex"] = "^(a+)+$" },
            new JsonObject { ["Name"] = "value", ["Regex"] = "value=([0-9]+)" });
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(30));
        Assert.Equal("Completed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("done", server.LogOf(name), StringComparison.Ordinal);
        Assert.Equal(3, job["FinalMetricDataList"]!.AsArray().Single(m => m!["MetricName"]!.GetValue<string>() == "value")!["Value"]!.GetValue<double>());
    }

    /// <summary>
    /// A server killed while an algorithm is validated: the restarted server takes the validation up again and
    /// follows the profile's job (which the restart settles), so the algorithm ends — here Failed, naming the
    /// job, whose host died with the server — instead of staying InProgress and undeletable for ever.
    /// </summary>
    [Fact]
    public async Task ServerKilledDuringValidation_TheRestartedServerSettlesTheAlgorithm()
    {
        using var home = new TempDirectory("home");
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile :; do sleep 0.1; done\n");
        var objects = Path.Combine(home.Path, "objects", "data", "train");
        Directory.CreateDirectory(objects);
        File.WriteAllText(Path.Combine(objects, "a.csv"), "1,2\n");
        var port = ServeProcess.FreePort();
        var endpoint = new Uri($"http://127.0.0.1:{port}");
        string job;
        using (var serve = ServeProcess.Start(home.Path, port))
        {
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-algorithm", "--cli-input-json", Algorithm("resumed", image).ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "list-training-jobs").Result["TrainingJobSummaries"]!.AsArray().Count == 1,
                TimeSpan.FromSeconds(60), "the validation job to be created");
            job = (await AwsCli.JsonAsync(endpoint, "sagemaker", "list-training-jobs"))["TrainingJobSummaries"]![0]!["TrainingJobName"]!.GetValue<string>();
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", job).Result["SecondaryStatus"]!.GetValue<string>() == "Training",
                TimeSpan.FromSeconds(60), "the validation job to train");
            var described = await AwsCli.JsonAsync(endpoint, "sagemaker", "describe-algorithm", "--algorithm-name", "resumed");
            Assert.Equal("InProgress", described["AlgorithmStatus"]!.GetValue<string>());
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }

        await using var restarted = await TestServer.StartAsync(home: home);
        var settled = await WaitForAlgorithmAsync(restarted, "resumed");
        Assert.Equal("Failed", settled["AlgorithmStatus"]!.GetValue<string>());
        var reason = settled["AlgorithmStatusDetails"]!["ValidationStatuses"]![0]!["FailureReason"]!.GetValue<string>();
        Assert.Contains(job, reason, StringComparison.Ordinal);
        Assert.Single((await restarted.CallAsync("ListTrainingJobs", new JsonObject())).Body!["TrainingJobSummaries"]!.AsArray());
        var (status, _) = await restarted.CallAsync("DeleteAlgorithm", new JsonObject { ["AlgorithmName"] = "resumed" });
        Assert.Equal(200, status);
    }
}
