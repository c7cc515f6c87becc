using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.Hosts;
using Trainyard.Slurm;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Slurm;

/// <summary>Training jobs whose hosts run as a real Slurm job across the test cluster's nodes.</summary>
public sealed class SlurmExecutorTests
{
    // algo-1 listens on its address; algo-2, on another Slurm node, connects by name. Each records its node.
    private const string Pair = """
        #!/usr/bin/python3
        import os, socket, time
        host = os.environ["SM_CURRENT_HOST"]
        node = os.environ.get("TRAINYARD_NODE", "?")
        if host == "algo-1":
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((socket.gethostbyname("algo-1"), 29500)); s.listen(1)
            conn, _ = s.accept()
            msg = conn.recv(100).decode()
            conn.sendall(("hello from " + node).encode())
            open("/opt/ml/model/algo-1.txt", "w").write(f"{msg} | on {node}")
        else:
            for attempt in range(400):
                try:
                    c = socket.create_connection(("algo-1", 29500), timeout=2); break
                except OSError:
                    time.sleep(0.05)
            c.sendall(("hello from " + node).encode())
            open("/opt/ml/model/algo-2.txt", "w").write(f"{c.recv(100).decode()} | on {node}")
        """;

    [Fact]
    public async Task Job_TwoHostsOnTwoSlurmNodes_TalkAndUploadOneModel()
    {
        SlurmCluster.Require();
        await using var server = await SlurmCluster.StartServerAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Pair);
        server.PutObject("data", "train/a.csv", "1\n");
        var name = TestJobs.UniqueName("slurm-pair");
        await server.CreateAsync(TestJobs.Request(name, image, instances: 2, channels: [TestJobs.Channel("train", "s3://data/train/")]));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(90));
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name));
        Assert.Equal("Starting,Downloading,Training,Uploading,Completed",
            string.Join(",", job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>())));

        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        var one = model["algo-1.txt"].Split(" | on ");
        var two = model["algo-2.txt"].Split(" | on ");
        // Real traffic between two different Slurm nodes: each saw the other's node name.
        Assert.NotEqual(one[1], two[1]);
        Assert.Equal("hello from " + two[1], one[0]);
        Assert.Equal("hello from " + one[1], two[0]);
        Assert.True(server.Server.Store.Get(name)!.ExecutorState is { Length: > 0 }, "the Slurm job id is recorded");
    }

    [Fact]
    public async Task Monitor_FailingPolls_AreSupervised_TheJobCompletesWithEveryLineAndMetricOnce()
    {
        SlurmCluster.Require();
        await using var server = await SlurmCluster.StartServerAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nfor i in 1 2 3 4 5 6; do echo \"step=$i loss=0.$i\"; sleep 0.3; done\n");
        var name = TestJobs.UniqueName("slurm-faults");
        var request = TestJobs.Request(name, image, instances: 2);
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "loss", ["Regex"] = "loss=([0-9.]+)" });
        // Half of this job's monitor iterations throw an error nobody expected.
        Trainyard.Supervision.Faults.Configure($"slurm.poll/{name}=0.5");
        try
        {
            await server.CreateAsync(request);
            var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(120));
            Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name));
            Assert.Equal("Starting,Downloading,Training,Uploading,Completed",
                string.Join(",", job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>())));
        }
        finally
        {
            Trainyard.Supervision.Faults.Configure(null);
        }

        Assert.True(Trainyard.Supervision.Faults.Injected($"slurm.poll/{name}") > 0, "no fault was injected: the test proved nothing");
        var log = server.LogOf(name);
        for (var i = 1; i <= 6; i++)
        {
            Assert.Equal(2, log.Split('\n').Count(l => l.Contains($"step={i} loss=", StringComparison.Ordinal)));
        }

        var (status, series) = await server.CallAsync("x", new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), target: "Trainyard.GetTrainingJobMetrics");
        Assert.Equal(200, status);
        Assert.Equal(12, series!["Metrics"]!.AsArray().Count);
    }

    [Fact]
    public async Task Stop_OnSlurm_EveryNodeGetsSigtermAndTheModelIsUploaded()
    {
        SlurmCluster.Require();
        await using var server = await SlurmCluster.StartServerAsync(grace: TimeSpan.FromSeconds(5));
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\ntrap 'echo \"saved by $SM_CURRENT_HOST\" > /opt/ml/model/$SM_CURRENT_HOST.txt; exit 0' TERM\necho running\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("slurm-stop");
        await server.CreateAsync(TestJobs.Request(name, image, instances: 3));
        await server.WaitForSecondaryAsync(name, "Training", TimeSpan.FromSeconds(60));
        await Poll.UntilAsync(() => server.LogOf(name).Split("running").Length == 4, TimeSpan.FromSeconds(30), "every host's algorithm to run");
        var (status, _) = await server.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = name });
        Assert.Equal(200, status);
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal(["algo-1.txt", "algo-2.txt", "algo-3.txt"], model.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("saved by algo-2\n", model["algo-2.txt"]);
    }

    [Fact]
    public async Task Host_KilledOnItsNode_FailsTheJobNamingTheHost()
    {
        SlurmCluster.Require();
        await using var server = await SlurmCluster.StartServerAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho $$ > /opt/ml/model/pid-$SM_CURRENT_HOST\necho partial > /opt/ml/model/$SM_CURRENT_HOST.txt\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("slurm-kill");
        await server.CreateAsync(TestJobs.Request(name, image, instances: 2));
        await server.WaitForSecondaryAsync(name, "Training", TimeSpan.FromSeconds(60));
        var events = Path.Combine(server.Options.JobDirectory(name), "hosts", "algo-2.events.jsonl");
        await Poll.UntilAsync(() => File.Exists(Path.Combine(server.Options.JobDirectory(name), "hosts", "algo-2", "model", "pid-algo-2")), TimeSpan.FromSeconds(30), "algo-2 to run");

        // Kill algo-2's whole host: the trainyard host process and the algorithm under it.
        var hostPids = Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => int.TryParse(p, out _))
            // Only this job's (its plan is in its directory): other tests' Slurm jobs run beside it.
            .Where(p => SafeRead($"/proc/{p}/cmdline") is var cmdline && cmdline.Contains("host\0--plan\0", StringComparison.Ordinal) && cmdline.Contains(name, StringComparison.Ordinal)
                && SafeRead($"/proc/{p}/environ").Contains("SLURM_PROCID=1\0", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(hostPids);
        foreach (var pid in hostPids)
        {
            System.Diagnostics.Process.GetProcessById(int.Parse(pid!, System.Globalization.CultureInfo.InvariantCulture)).Kill(entireProcessTree: true);
        }

        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(90));
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("algo-2", job["FailureReason"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(File.Exists(events));
        // What the hosts left is still uploaded.
        Assert.Contains("algo-1.txt", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz")).Keys);
    }

    [Fact]
    public async Task Restart_WhileASlurmJobRuns_TheNewServerFollowsItToTheEnd()
    {
        SlurmCluster.Require();
        using var home = new TempDirectory("slurm-restart");
        using var dir = new TempDirectory();
        // The algorithm waits until the test releases it (a file in its /opt/ml), after the server has been replaced.
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nfor i in 1 2 3; do echo \"loss=1.$i\"; done\nwhile [ ! -e /opt/ml/release ]; do sleep 0.1; done\necho finished > /opt/ml/model/$SM_CURRENT_HOST.txt\necho 'loss=0.5'\n");
        var name = TestJobs.UniqueName("slurm-restart");
        var request = TestJobs.Request(name, image, instances: 2);
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "loss", ["Regex"] = "loss=([0-9.]+)" });

        var port = ServeProcess.FreePort();
        using (var serve = ServeProcess.Start(home.Path, port, "--executor", "slurm", "--stop-grace-seconds", "3"))
        {
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", request.ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", name).Result["SecondaryStatus"]!.GetValue<string>() == "Training",
                TimeSpan.FromSeconds(60), "the job to train");
            // The first three points of both hosts are consumed (and made durable) before the server dies.
            using var http = new HttpClient();
            async Task<int> PointsAsync()
            {
                using var content = new StringContent(new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), System.Text.Encoding.UTF8, "application/x-amz-json-1.1");
                content.Headers.Add("X-Amz-Target", "Trainyard.GetTrainingJobMetrics");
                using var response = await http.PostAsync(endpoint, content);
                return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["Metrics"]?.AsArray().Count ?? 0;
            }

            bool Consumed(string host) => File.Exists(Path.Combine(home.Path, "jobs", name, "hosts", host + ".follower.json"))
                && JsonNode.Parse(File.ReadAllText(Path.Combine(home.Path, "jobs", name, "hosts", host + ".follower.json")))!["LogOffset"]!.GetValue<long>() > 0;
            await Poll.UntilAsync(() => PointsAsync().Result == 6 && Consumed("algo-1") && Consumed("algo-2"), TimeSpan.FromSeconds(60), "the first metric points to be consumed");
            serve.Kill(); // the server dies; the Slurm job does not
            await serve.WaitForExitAsync();
        }

        await using var restarted = await SlurmCluster.StartServerAsync(home);
        Assert.Equal("InProgress", (await restarted.DescribeAsync(name))["TrainingJobStatus"]!.GetValue<string>());
        foreach (var host in new[] { "algo-1", "algo-2" })
        {
            File.WriteAllText(Path.Combine(restarted.Options.JobDirectory(name), "hosts", host, "release"), "go");
        }

        var job = await restarted.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        Assert.Equal(0.5, job["FinalMetricDataList"]![0]!["Value"]!.GetValue<double>());

        // Followed to the end exactly once: no phase is replayed, every point is in the series once.
        var transitions = job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>()).ToList();
        Assert.Equal(["Starting", "Downloading", "Training", "Uploading", "Completed"], transitions);
        var (_, series) = await restarted.CallAsync("x", new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), target: "Trainyard.GetTrainingJobMetrics");
        var points = series!["Metrics"]!.AsArray();
        Assert.Equal(8, points.Count);
        foreach (var host in new[] { "algo-1", "algo-2" })
        {
            Assert.Equal([1.1, 1.2, 1.3, 0.5], points.Where(p => p!["Host"]?.GetValue<string>() == host).Select(p => p!["Value"]!.GetValue<double>()));
        }
        var model = TarGz.Entries(Path.Combine(restarted.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("finished\n", model["algo-2.txt"]);
    }

    /// <summary>An algorithm that trains until SIGTERM and then saves its model (algo-N.txt, "saved").</summary>
    private static string SavesModelOnSigterm(TempDirectory dir) =>
        TestJobs.Algorithm(dir, "#!/bin/sh\ntrap 'echo saved > /opt/ml/model/$SM_CURRENT_HOST.txt; exit 0' TERM\nwhile :; do sleep 0.1; done\n");

    private static void AssertSavedModelUploaded(TestServer server, string name)
    {
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("saved\n", model["algo-1.txt"]);
    }

    /// <summary>
    /// A host that outlives its server enforces MaxRuntimeInSeconds itself: with the server down past the
    /// deadline, the host stops its algorithm (SIGTERM, which saves the model) and reports that it timed out;
    /// the restarted server ends the job MaxRuntimeExceeded and uploads the model.
    /// </summary>
    [Fact]
    public async Task Host_EnforcesMaxRuntimeWhileTheServerIsDown_TheRestartedServerEndsItMaxRuntimeExceeded()
    {
        SlurmCluster.Require();
        using var home = new TempDirectory("slurm-deadline");
        using var dir = new TempDirectory();
        var image = SavesModelOnSigterm(dir);
        var name = TestJobs.UniqueName("slurm-deadline");
        // Long enough that the server is killed before its own MaxRuntime timer fires (reaching Training can take
        // seconds on a loaded machine; the server would then stop the job itself, not the host).
        var request = TestJobs.Request(name, image, maxRuntime: 15);
        var port = ServeProcess.FreePort();
        var events = Path.Combine(home.Path, "jobs", name, "hosts", "algo-1.events.jsonl");
        using (var serve = ServeProcess.Start(home.Path, port, "--executor", "slurm", "--stop-grace-seconds", "3"))
        {
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", request.ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", name).Result["SecondaryStatus"]!.GetValue<string>() == "Training",
                TimeSpan.FromSeconds(60), "the job to train");
            serve.Kill(); // the server dies before the deadline; the Slurm job does not
            await serve.WaitForExitAsync();
        }

        await Poll.UntilAsync(() => File.Exists(events) && File.ReadAllText(events).Contains("\"TimedOut\":true", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the host to stop its algorithm at its deadline");
        await using var restarted = await SlurmCluster.StartServerAsync(home);
        var job = await restarted.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("MaxRuntimeExceeded", job["SecondaryStatus"]!.GetValue<string>());
        AssertSavedModelUploaded(restarted, name);
    }

    /// <summary>With StopJobsOnExit (serve --stop-jobs-on-exit) a server that shuts down stops its Slurm jobs instead of leaving them for the next start.</summary>
    [Fact]
    public async Task StopJobsOnExit_ShuttingDown_StopsTheSlurmJobAndUploadsItsModel()
    {
        SlurmCluster.Require();
        using var home = new TempDirectory("slurm-stop-on-exit");
        using var dir = new TempDirectory();
        var image = SavesModelOnSigterm(dir);
        var name = TestJobs.UniqueName("slurm-exit");
        var server = await TestServer.StartAsync(o => o with { Executor = "slurm", StopJobsOnExit = true }, home, SlurmCluster.Executors());
        await server.CreateAsync(TestJobs.Request(name, image));
        await server.WaitForSecondaryAsync(name, "Training", TimeSpan.FromSeconds(60));
        await server.Server.DisposeAsync();

        await using var restarted = await SlurmCluster.StartServerAsync(home);
        var job = await restarted.DescribeAsync(name);
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        AssertSavedModelUploaded(restarted, name);
    }

    [Fact]
    public async Task TaskNiceness_LowersTheHostRuntimeAndItsSession_NotTheAlgorithm()
    {
        SlurmCluster.Require();
        using var home = new TempDirectory("home");
        await using var server = await TestServer.StartAsync(o => o with { Executor = "slurm" }, home,
            SlurmCluster.Executors(new SlurmOptions { PollInterval = TimeSpan.FromMilliseconds(200), TaskNiceness = 7 }));
        using var dir = new TempDirectory();
        // The algorithm records its own nice value and session (autogroup) priority, then waits for the test.
        var image = TestJobs.Algorithm(dir, "#!/bin/bash\nread -r -a stat < /proc/self/stat\ncat /proc/self/autogroup > /opt/ml/model/autogroup 2>/dev/null\necho ${stat[18]} > /opt/ml/model/nice\nwhile [ ! -e /opt/ml/release ]; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("slurm-nice");
        await server.CreateAsync(TestJobs.Request(name, image));
        var hostDirectory = Path.Combine(server.Options.JobDirectory(name), "hosts", "algo-1");
        await Poll.UntilAsync(() => File.Exists(Path.Combine(hostDirectory, "model", "nice")), TimeSpan.FromSeconds(60), "the algorithm to run");

        try
        {
            var plan = Path.Combine(server.Options.JobDirectory(name), "plan.json");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(plan)); // it holds the hosts' credentials
            var runtime = Directory.GetDirectories("/proc").Select(Path.GetFileName).Where(p => int.TryParse(p, out _))
                .Single(p => SafeRead($"/proc/{p}/cmdline").Split('\0') is [_, "host", "--plan", var planArg, ..] && planArg == plan); // not srun, whose arguments hold it too
            Assert.Equal("7", SafeRead($"/proc/{runtime}/stat").Split(')')[^1].Split(' ')[17]);
            var autogroups = File.Exists("/proc/self/autogroup");
            if (autogroups)
            {
                // Slurm gives the task a session of its own: the session is niced too (the host runtime retries if refused).
                await Poll.UntilAsync(() => SafeRead($"/proc/{runtime}/autogroup").TrimEnd().EndsWith(" nice 7", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "the host's session to be niced");
            }

            Assert.Equal("0", File.ReadAllText(Path.Combine(hostDirectory, "model", "nice")).Trim());
            if (autogroups)
            {
                Assert.EndsWith(" nice 0", File.ReadAllText(Path.Combine(hostDirectory, "model", "autogroup")).TrimEnd(), StringComparison.Ordinal);
            }
        }
        finally
        {
            // Released whatever the assertions said: a Slurm job outlives its server.
            File.WriteAllText(Path.Combine(hostDirectory, "release"), "go");
        }

        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name));
        Assert.Contains("nice -n 7", File.ReadAllText(Path.Combine(server.Options.JobDirectory(name), "slurm-job.sh")), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PendingLongerThanMaxPendingTime_IsCancelledWithThatReason()
    {
        SlurmCluster.Require();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        // MaxPendingTimeInSeconds is at least 7200 in the API, so the executor is driven directly with a
        // short limit, and Slurm is told to hold the job (--begin) so that it stays PENDING.
        var executor = new SlurmExecutor(new SlurmOptions { PollInterval = TimeSpan.FromMilliseconds(200), ExtraSbatchArguments = ["--begin=now+3600"] }, NullLogger<SlurmExecutor>.Instance);
        var plan = new HostPlan
        {
            JobName = "pending", JobArn = "arn", Region = "us-east-1", HostName = "algo-1", Hosts = ["algo-1"],
            HostAddresses = new Dictionary<string, string> { ["algo-1"] = "127.0.0.11" },
            HostDirectory = Path.Combine(dir.Path, "job", "hosts", "algo-1"), ImagePath = image,
            HyperParameters = new Dictionary<string, string>(), Environment = new Dictionary<string, string>(),
            InstanceTypeName = "ml.m5.large", Channels = [], VolumeSizeBytes = 1 << 30, TrainingJobConfigJson = "{}",
            LogPath = Path.Combine(dir.Path, "job", "logs", "algo-1.log"), StopGracePeriod = TimeSpan.FromSeconds(1),
            MaxPendingTime = TimeSpan.FromSeconds(2), ObjectStoreRoot = dir["objects"],
        };
        var placed = new RecordingEvents();
        var result = await executor.Start([plan], placed, CancellationToken.None)[0].WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("MaxPendingTimeInSeconds", result.Error, StringComparison.Ordinal);
        var state = await SlurmCommands.QueryAsync(long.Parse(placed.State!, System.Globalization.CultureInfo.InvariantCulture), CancellationToken.None);
        Assert.True(state is null || state.State == "CANCELLED", state?.State);
    }

    private sealed class RecordingEvents : IHostEvents
    {
        public string? State { get; private set; }

        public void OnPhase(string host, HostPhase phase)
        {
        }

        public void OnLog(string host, string line)
        {
        }

        public void OnProgress(string host, long bytesDone, long bytesTotal, int objectsDone, int objectsTotal)
        {
        }

        public void OnPlaced(string state) => State = state;
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
