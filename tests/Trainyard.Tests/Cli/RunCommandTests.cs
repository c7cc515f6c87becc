using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Cli;

/// <summary>The README's first command, and the CLI's other commands, run for real.</summary>
public sealed class RunCommandTests
{
    [Fact]
    public async Task Run_ReadmeExample_TrainsARealModelAndExitsZero()
    {
        using var home = new TempDirectory("cli-home");
        var (code, stdout, stderr) = await TrainyardCli.RunAsync(TrainyardCli.RepositoryRoot, "run", "examples/iris-softmax/job.json", "--home", home.Path);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Completed - Completed Training job completed", stdout, StringComparison.Ordinal);
        Assert.Matches(@"Metric validation:accuracy = 0\.9\d*", stdout);

        // The model is real: a JSON file with learned weights, inside the uploaded model.tar.gz.
        var archive = Directory.GetFiles(Path.Combine(home.Path, "objects", "trainyard-examples"), "model.tar.gz", SearchOption.AllDirectories).Single();
        var model = JsonNode.Parse(TarGz.Entries(archive)["model.json"])!;
        Assert.Equal(["setosa", "versicolor", "virginica"], model["classes"]!.AsArray().Select(c => c!.GetValue<string>()));
        Assert.True(model["validation_accuracy"]!.GetValue<double>() >= 0.9);
        Assert.Equal(3, model["weights"]!.AsArray().Count);
    }

    [Fact]
    public async Task Run_FailingJob_ExitsNonZeroWithTheReason()
    {
        using var home = new TempDirectory("cli-home");
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho 'AlgorithmError: no data' > /opt/ml/output/failure\nexit 1\n");
        var job = dir.Write("job.json", TestJobs.Request("failing", image).ToJsonString());
        var (code, stdout, _) = await TrainyardCli.RunAsync(dir.Path, "run", job, "--home", home.Path);
        Assert.Equal(1, code);
        Assert.Contains("FailureReason: AlgorithmError: no data", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ImageMapFromImagesJsonAndFlag_ServesEcrReferencesLocally_AndABadMapSaysWhatIsWrong()
    {
        using var home = new TempDirectory("cli-home");
        using var dir = new TempDirectory();
        var fromFile = TestJobs.Algorithm(dir, "#!/bin/sh\necho mapped by images.json\n", "from-file");
        var fromFlag = TestJobs.Algorithm(dir, "#!/bin/sh\necho mapped by --image\n", "from-flag");
        const string Ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/";
        File.WriteAllText(Path.Combine(home.Path, "images.json"), new JsonObject { [Ecr + "file-algo"] = fromFile }.ToJsonString());

        var job = dir.Write("file.json", TestJobs.Request("by-file", Ecr + "file-algo:3").ToJsonString());
        var (code, stdout, stderr) = await TrainyardCli.RunAsync(dir.Path, "run", job, "--home", home.Path);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("mapped by images.json", stdout, StringComparison.Ordinal);

        job = dir.Write("flag.json", TestJobs.Request("by-flag", Ecr + "flag-algo:1").ToJsonString());
        (code, stdout, stderr) = await TrainyardCli.RunAsync(dir.Path, "run", job, "--home", home.Path, "--image", Ecr + "flag-algo=" + fromFlag);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("mapped by --image", stdout, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(home.Path, "images.json"), "{\"x\": 3}");
        (code, _, stderr) = await TrainyardCli.RunAsync(dir.Path, "run", job, "--home", home.Path);
        Assert.Equal(2, code);
        Assert.Contains("the value of 'x' is not a non-empty string", stderr, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(home.Path, "images.json"), "{ not json");
        (code, _, stderr) = await TrainyardCli.RunAsync(dir.Path, "run", job, "--home", home.Path);
        Assert.Equal(2, code);
        Assert.Contains("images.json must be a JSON object", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_InvalidJobFile_SaysWhatIsWrong()
    {
        using var home = new TempDirectory("cli-home");
        using var dir = new TempDirectory();
        var job = dir.Write("job.json", "{ not json");
        var (code, _, stderr) = await TrainyardCli.RunAsync(dir.Path, "run", job, "--home", home.Path);
        Assert.Equal(2, code);
        Assert.Contains("is not valid JSON", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsCommands_AgainstARunningServer_ListDescribeLogs()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho line one\necho line two >&2\n");
        var name = TestJobs.UniqueName("logs");
        await server.CreateAsync(TestJobs.Request(name, image));
        await server.WaitForEndAsync(name);
        var endpoint = server.Address.ToString();

        var list = await TrainyardCli.RunAsync(dir.Path, "jobs", "list", "--endpoint-url", endpoint);
        Assert.True(list.ExitCode == 0, list.Stderr);
        Assert.Contains(name, list.Stdout, StringComparison.Ordinal);

        var describe = await TrainyardCli.RunAsync(dir.Path, "jobs", "describe", name, "--endpoint-url", endpoint);
        Assert.Equal("Completed", JsonNode.Parse(describe.Stdout)!["TrainingJobStatus"]!.GetValue<string>());

        var logs = await TrainyardCli.RunAsync(dir.Path, "jobs", "logs", name, "--follow", "--endpoint-url", endpoint); // no --home: read through GetLogEvents
        Assert.True(logs.ExitCode == 0, logs.Stderr);
        Assert.Contains("line one", logs.Stdout, StringComparison.Ordinal);
        Assert.Contains("line two", logs.Stdout, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(server.Options.JobDirectory(name), "logs"), "*.log"), f => Path.GetFileName(f).StartsWith("algo-1-", StringComparison.Ordinal));

        // `run --endpoint-url` follows a job it submits, logs included, knowing nothing of the server's home.
        var remote = TestJobs.UniqueName("remote");
        var slow = TestJobs.Algorithm(dir, "#!/bin/sh\necho first half\nsleep 1\necho second half\n", "slow");
        File.WriteAllText(Path.Combine(dir.Path, "remote.json"), TestJobs.Request(remote, slow).ToJsonString());
        var run = await TrainyardCli.RunAsync(dir.Path, "run", "remote.json", "--name", remote, "--endpoint-url", endpoint);
        Assert.True(run.ExitCode == 0, run.Stdout + run.Stderr);
        Assert.Contains("first half", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("second half", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Completed", run.Stdout, StringComparison.Ordinal);

        var help = await TrainyardCli.RunAsync(dir.Path, "--help");
        Assert.Contains("serve", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("run", help.Stdout, StringComparison.Ordinal);
    }
}
