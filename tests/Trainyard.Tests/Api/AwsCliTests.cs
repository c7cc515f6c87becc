using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>The real server driven by Debian's AWS CLI v2, as a user would.</summary>
public sealed class AwsCliTests
{
    private const string Sleeper = "#!/bin/sh\ntrap 'echo got SIGTERM; echo saved > /opt/ml/model/stopped.txt; exit 0' TERM\necho started\nwhile :; do sleep 0.1; done\n";

    [Fact]
    public async Task CreateDescribeWait_CompletedJob_ShowsSageMakerLifecycle()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho hello from $SM_CURRENT_HOST\necho weights > $SM_MODEL_DIR/weights.txt\n");
        var data = server.PutObject("data", "train/a.csv", "1,2\n");
        var name = TestJobs.UniqueName("cli");
        var request = TestJobs.Request(name, image, channels: [TestJobs.Channel("train", "s3://data/train/")]);
        var requestFile = dir.Write("request.json", request.ToJsonString());

        var created = await AwsCli.JsonAsync(server.Address, "sagemaker", "create-training-job", "--cli-input-json", "file://" + requestFile);
        Assert.Equal($"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}", created["TrainingJobArn"]!.GetValue<string>());

        // A job is visible as soon as Create returns.
        var early = await AwsCli.JsonAsync(server.Address, "sagemaker", "describe-training-job", "--training-job-name", name);
        Assert.Contains(early["TrainingJobStatus"]!.GetValue<string>(), new[] { "InProgress", "Completed" });

        await server.WaitForEndAsync(name);
        var (code, _, stderr) = await AwsCli.RunAsync(server.Address, "sagemaker", "wait", "training-job-completed-or-stopped", "--training-job-name", name);
        Assert.True(code == 0, stderr);

        var job = await AwsCli.JsonAsync(server.Address, "sagemaker", "describe-training-job", "--training-job-name", name);
        Assert.Equal("Completed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("Completed", job["SecondaryStatus"]!.GetValue<string>());
        var transitions = job["SecondaryStatusTransitions"]!.AsArray().Select(t => (t!["Status"]!.GetValue<string>(), t["StatusMessage"]!.GetValue<string>())).ToList();
        Assert.Equal(
            [("Starting", "Preparing the instances for training"), ("Downloading", "Downloading input data"),
             ("Training", "Training image download completed. Training in progress."), ("Uploading", "Uploading generated training model"),
             ("Completed", "Training job completed")],
            transitions);
        Assert.Equal($"s3://out/models/{name}/output/model.tar.gz", job["ModelArtifacts"]!["S3ModelArtifacts"]!.GetValue<string>());
        Assert.True(job["TrainingTimeInSeconds"]!.GetValue<int>() >= 1);
        Assert.True(job["BillableTimeInSeconds"]!.GetValue<int>() >= 1);
        Assert.NotNull(job["TrainingStartTime"]);
        Assert.NotNull(job["TrainingEndTime"]);
        Assert.Equal(data, job["InputDataConfig"]![0]!["DataSource"]!["S3DataSource"]!["S3Uri"]!.GetValue<string>().TrimEnd('/').Replace("train", "train/a.csv", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz")));
    }

    [Fact]
    public async Task ListTrainingJobs_PagesThroughEveryJob_WithCliPagination()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        var names = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            var name = $"page-{i:D2}-{Guid.NewGuid().ToString("N")[..6]}";
            names.Add(name);
            await server.CreateAsync(TestJobs.Request(name, image));
        }

        // The CLI follows NextToken itself; --page-size 2 forces four pages.
        var all = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-training-jobs", "--page-size", "2", "--sort-by", "Name", "--sort-order", "Ascending");
        var listed = all["TrainingJobSummaries"]!.AsArray().Select(s => s!["TrainingJobName"]!.GetValue<string>()).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), listed);

        // --max-items exposes the token; resuming with it yields the rest.
        var first = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-training-jobs", "--max-items", "3", "--page-size", "2", "--sort-by", "Name", "--sort-order", "Ascending");
        Assert.Equal(3, first["TrainingJobSummaries"]!.AsArray().Count);
        var token = first["NextToken"]!.GetValue<string>();
        var rest = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-training-jobs", "--starting-token", token, "--page-size", "2", "--sort-by", "Name", "--sort-order", "Ascending");
        var resumed = first["TrainingJobSummaries"]!.AsArray().Concat(rest["TrainingJobSummaries"]!.AsArray()).Select(s => s!["TrainingJobName"]!.GetValue<string>());
        Assert.Equal(names.Order(StringComparer.Ordinal), resumed);

        var filtered = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-training-jobs", "--name-contains", names[3][..8]);
        Assert.Equal([names[3]], filtered["TrainingJobSummaries"]!.AsArray().Select(s => s!["TrainingJobName"]!.GetValue<string>()));
    }

    [Fact]
    public async Task StopTrainingJob_FromCli_StopsGracefullyAndUploadsTheModel()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Sleeper);
        var name = TestJobs.UniqueName("stop");
        await server.CreateAsync(TestJobs.Request(name, image));
        await server.WaitForSecondaryAsync(name, "Training");
        await Poll.UntilAsync(() => server.LogOf(name).Contains("started", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the algorithm to start");

        var (code, _, stderr) = await AwsCli.RunAsync(server.Address, "sagemaker", "stop-training-job", "--training-job-name", name);
        Assert.True(code == 0, stderr);
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("Stopped", job["SecondaryStatus"]!.GetValue<string>());
        Assert.Contains("got SIGTERM", server.LogOf(name), StringComparison.Ordinal);
        var names = job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>()).ToList();
        Assert.Equal(["Starting", "Downloading", "Training", "Stopping", "Stopped"], names);
        var entries = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("saved\n", entries["stopped.txt"]);

        // Stopping a job that has ended is a ValidationException.
        var again = await AwsCli.RunAsync(server.Address, "sagemaker", "stop-training-job", "--training-job-name", name);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("ValidationException", again.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DescribeTrainingJob_UnknownJob_AnswersLikeSageMaker()
    {
        await using var server = await TestServer.StartAsync();
        var (code, _, stderr) = await AwsCli.RunAsync(server.Address, "sagemaker", "describe-training-job", "--training-job-name", "no-such-job");
        Assert.NotEqual(0, code);
        Assert.Contains("ValidationException", stderr, StringComparison.Ordinal);
        Assert.Contains("Requested resource not found.", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tags_AddListDelete_ThroughTheCli()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        var name = TestJobs.UniqueName("tags");
        var request = TestJobs.Request(name, image);
        request["Tags"] = new JsonArray(new JsonObject { ["Key"] = "team", ["Value"] = "vision" });
        var arn = (await server.CreateAsync(request))["TrainingJobArn"]!.GetValue<string>();

        await AwsCli.JsonAsync(server.Address, "sagemaker", "add-tags", "--resource-arn", arn, "--tags", "Key=stage,Value=dev", "Key=team,Value=nlp");
        var tags = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-tags", "--resource-arn", arn);
        var map = tags["Tags"]!.AsArray().ToDictionary(t => t!["Key"]!.GetValue<string>(), t => t!["Value"]!.GetValue<string>());
        Assert.Equal(new Dictionary<string, string> { ["team"] = "nlp", ["stage"] = "dev" }, map);

        await AwsCli.JsonAsync(server.Address, "sagemaker", "delete-tags", "--resource-arn", arn, "--tag-keys", "team");
        tags = await AwsCli.JsonAsync(server.Address, "sagemaker", "list-tags", "--resource-arn", arn);
        Assert.Equal(["stage"], tags["Tags"]!.AsArray().Select(t => t!["Key"]!.GetValue<string>()));
    }

    [Fact]
    public async Task CreateTrainingJob_BadMembers_ListsEveryViolationThroughTheCli()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var request = TestJobs.Request("bad_name!", "/nonexistent", maxRuntime: 0);
        var file = dir.Write("bad.json", request.ToJsonString());
        var (code, _, stderr) = await AwsCli.RunAsync(server.Address, clientValidation: false, "sagemaker", "create-training-job", "--cli-input-json", "file://" + file);
        Assert.NotEqual(0, code);
        Assert.Contains("ValidationException", stderr, StringComparison.Ordinal);
        Assert.Contains("2 validation errors detected", stderr, StringComparison.Ordinal);
        Assert.Contains("Value 'bad_name!' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern", stderr, StringComparison.Ordinal);
        Assert.Contains("Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1", stderr, StringComparison.Ordinal);
    }
}
