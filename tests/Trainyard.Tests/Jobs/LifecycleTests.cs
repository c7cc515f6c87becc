using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Jobs;

/// <summary>How jobs end: failures, time-outs, stops that need SIGKILL, bad data.</summary>
public sealed class LifecycleTests
{
    private static string Statuses(JsonNode job) =>
        string.Join(",", job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>()));

    [Fact]
    public async Task Job_AlgorithmWritesFailureFile_FailureReasonIsItsText()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho 'AlgorithmError: the learning rate diverged' > /opt/ml/output/failure\necho partial > /opt/ml/model/partial.txt\nexit 3\n");
        var name = TestJobs.UniqueName("fail");
        await server.CreateAsync(TestJobs.Request(name, image));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("Failed", job["SecondaryStatus"]!.GetValue<string>());
        Assert.Equal("AlgorithmError: the learning rate diverged", job["FailureReason"]!.GetValue<string>());
        Assert.Equal("Starting,Downloading,Training,Failed", Statuses(job));

        // Artifacts are uploaded after a failure too.
        Assert.Equal("partial\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["partial.txt"]);
    }

    [Fact]
    public async Task Job_AlgorithmExitsNonZeroWithoutFailureFile_FailureReasonHasTheExitCode()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 7\n");
        var name = TestJobs.UniqueName("exit");
        await server.CreateAsync(TestJobs.Request(name, image));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("exited with code 7", job["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Job_OneHostFails_OtherHostsAreStoppedAndTheJobFails()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nif [ \"$SM_CURRENT_HOST\" = algo-2 ]; then exit 4; fi\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("onefails");
        await server.CreateAsync(TestJobs.Request(name, image, instances: 3));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(30));
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("algo-2 exited with code 4", job["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Job_ExceedsMaxRuntime_StopsWithMaxRuntimeExceededAndKeepsTheModel()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\ntrap 'echo checkpoint > /opt/ml/model/final.txt; exit 0' TERM\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("timeout");
        await server.CreateAsync(TestJobs.Request(name, image, maxRuntime: 1));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(30));
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("MaxRuntimeExceeded", job["SecondaryStatus"]!.GetValue<string>());
        Assert.Equal("Starting,Downloading,Training,Stopping,MaxRuntimeExceeded", Statuses(job));
        Assert.Equal("checkpoint\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["final.txt"]);
    }

    [Fact]
    public async Task Stop_AlgorithmIgnoresSigterm_IsKilledAfterTheGracePeriod()
    {
        await using var server = await TestServer.StartAsync(o => o with { StopGracePeriod = TimeSpan.FromSeconds(1) });
        using var dir = new TempDirectory();
        // The algorithm and a child it started both ignore SIGTERM; both must be gone after SIGKILL.
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\ntrap '' TERM\n(trap '' TERM; while :; do sleep 0.1; done) &\necho $! > /opt/ml/model/child.pid\necho ready\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("kill");
        await server.CreateAsync(TestJobs.Request(name, image));
        await Poll.UntilAsync(() => server.LogOf(name).Contains("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the algorithm to start");
        var (status, _) = await server.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = name });
        Assert.Equal(200, status);
        Assert.Equal("Stopping", (await server.DescribeAsync(name))["TrainingJobStatus"]!.GetValue<string>());
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(30));
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("sending SIGKILL", server.LogOf(name), StringComparison.Ordinal);
        var childPid = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["child.pid"].Trim();
        await Poll.UntilAsync(() => !Directory.Exists($"/proc/{childPid}") || File.ReadAllText($"/proc/{childPid}/stat").Contains(") Z ", StringComparison.Ordinal),
            TimeSpan.FromSeconds(5), "the algorithm's child to be gone");
    }

    [Fact]
    public async Task Job_DataLargerThanVolume_FailsBeforeTraining()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho trained > /opt/ml/model/should-not-exist\n");
        var big = new byte[(1 << 30) + 1024];
        server.PutObject("data", "big/blob.bin", []);
        await using (var f = File.OpenWrite(Path.Combine(server.Objects, "data", "big", "blob.bin")))
        {
            f.SetLength(big.Length); // sparse: no real disk used
        }

        var name = TestJobs.UniqueName("volume");
        await server.CreateAsync(TestJobs.Request(name, image, channels: [TestJobs.Channel("train", "s3://data/big/")]));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("does not fit its volume", job["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("VolumeSizeInGB", job["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("Training", Statuses(job), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Job_ManifestEntryEscapingTheChannel_IsRefusedAndNothingIsWritten()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        server.PutObject("data", "secret.txt", "secret");
        server.PutObject("data", "ok/a.txt", "a");
        var manifest = server.PutObject("data", "manifests/m.json", """[{"prefix": "s3://data/ok/"}, "a.txt", "../secret.txt"]""");
        var name = TestJobs.UniqueName("escape");
        await server.CreateAsync(TestJobs.Request(name, image, channels: [TestJobs.Channel("train", manifest, type: "ManifestFile")]));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("outside the channel directory", job["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
        var jobDir = server.Options.JobDirectory(name);
        Assert.True(!Directory.Exists(jobDir) || Directory.GetFiles(jobDir, "secret.txt", SearchOption.AllDirectories).Length == 0);
    }

    [Fact]
    public async Task Job_ManifestFile_DeliversTheListedObjects()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\ncd /opt/ml/input/data/train && find . -type f | sort > /opt/ml/model/files.txt\n");
        server.PutObject("data", "pool/a.txt", "a");
        server.PutObject("data", "pool/sub/b.txt", "b");
        server.PutObject("data", "pool/c.txt", "not listed");
        var manifest = server.PutObject("data", "manifests/m.json", """[{"prefix": "s3://data/pool/"}, "a.txt", "sub/b.txt"]""");
        var name = TestJobs.UniqueName("manifest");
        await server.CreateAsync(TestJobs.Request(name, image, channels: [TestJobs.Channel("train", manifest, type: "ManifestFile")]));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Completed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("./a.txt\n./sub/b.txt\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["files.txt"]);
    }

    [Fact]
    public async Task Job_OutputDataAndNoneCompression_AreUploadedAsSageMakerDoes()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho m > /opt/ml/model/m.bin\necho d > /opt/ml/output/data/report.txt\n");
        var name = TestJobs.UniqueName("outputs");
        var request = TestJobs.Request(name, image);
        request["OutputDataConfig"]!["CompressionType"] = "NONE";
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Completed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal($"s3://out/models/{name}/output/model/", job["ModelArtifacts"]!["S3ModelArtifacts"]!.GetValue<string>());
        Assert.Equal("m\n", File.ReadAllText(Path.Combine(server.Objects, "out", "models", name, "output", "model", "m.bin")));
        Assert.Equal("d\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "output.tar.gz"))["report.txt"]);
    }

    [Fact]
    public async Task Restart_JobRunningWhenServerDied_IsListedAsFailedWithAReason()
    {
        using var home = new TempDirectory("restart");
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile :; do sleep 0.1; done\n");
        var done = TestJobs.UniqueName("done");
        var running = TestJobs.UniqueName("running");
        var port = ServeProcess.FreePort();
        using (var serve = ServeProcess.Start(home.Path, port, "--stop-grace-seconds", "1"))
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            var quick = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n", "quick");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", TestJobs.Request(done, quick).ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", done).Result["TrainingJobStatus"]!.GetValue<string>() == "Completed",
                TimeSpan.FromSeconds(30), "the first job to complete");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", TestJobs.Request(running, image).ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", running).Result["SecondaryStatus"]!.GetValue<string>() == "Training",
                TimeSpan.FromSeconds(30), "the second job to train");
            serve.Kill(entireProcessTree: true); // the server dies without a chance to clean up
            await serve.WaitForExitAsync();
        }

        await using var restarted = await TestServer.StartAsync(home: home);
        var listed = await AwsCli.JsonAsync(restarted.Address, "sagemaker", "list-training-jobs");
        Assert.Equal(2, listed["TrainingJobSummaries"]!.AsArray().Count);
        Assert.Equal("Completed", (await restarted.DescribeAsync(done))["TrainingJobStatus"]!.GetValue<string>());
        var lost = await restarted.DescribeAsync(running);
        Assert.Equal("Failed", lost["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("server stopped while this job was Training", lost["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
