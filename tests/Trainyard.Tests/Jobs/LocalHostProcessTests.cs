using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Trainyard.Hosts;
using Trainyard.Jobs;
using Trainyard.Tests.Support;
using Xunit.Abstractions;

namespace Trainyard.Tests.Jobs;

/// <summary>
/// Local hosts as <c>trainyard host</c> processes (the default of <c>serve</c> and <c>run</c>): they outlive
/// a server killed with SIGKILL, and the next server follows every job to its end — status, transitions,
/// metric points, log lines and artifacts exactly once.
/// </summary>
public sealed class LocalHostProcessTests(ITestOutputHelper output)
{
    private const int Steps = 15;

    /// <summary>
    /// Prints <see cref="Steps"/> steps with a loss each, then writes a model — a large repetitive file (so
    /// that uploading takes a moment) and two small ones naming the job and host.
    /// </summary>
    private static string Algorithm(TempDirectory dir) => TestJobs.Algorithm(dir, $$"""
        #!/bin/sh
        set -e
        cat /opt/ml/input/data/train/part-* > /dev/null
        i=0
        while [ $i -lt {{Steps}} ]; do echo "step=$i loss=0.$i"; i=$((i+1)); sleep 0.1; done
        echo "$TRAINING_JOB_NAME $SM_CURRENT_HOST" > /opt/ml/model/who.txt
        echo model > /opt/ml/model/m.txt
        yes "$TRAINING_JOB_NAME" | head -c 30000000 > /opt/ml/model/big.bin
        """);

    private static JsonObject Request(string name, string image, int hosts)
    {
        var request = TestJobs.Request(name, image, hosts, channels: [TestJobs.Channel("train", "s3://data/train/")]);
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "train:loss", ["Regex"] = "loss=([0-9.]+)" });
        return request;
    }

    private static void PutData(string objects)
    {
        for (var i = 0; i < 4; i++)
        {
            var path = Path.Combine(objects, "data", "train", $"part-{i}");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, new byte[2 << 20]);
        }
    }

    [Fact]
    public async Task ProcessHosts_RunATwoHostJob_LikeInProcessHosts()
    {
        using var dir = new TempDirectory("process-hosts");
        await using var server = await TestServer.StartAsync(o => o with { HostExecutable = TrainyardCli.Executable, StopJobsOnExit = true });
        PutData(server.Objects);
        var name = TestJobs.UniqueName("proc");
        await server.CreateAsync(Request(name, Algorithm(dir), 2));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        await CheckAsync(server, name, 2);

        var jobDirectory = server.Options.JobDirectory(name);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(jobDirectory, "plan.json")));
        var state = server.Server.Store.Get(name)!.ExecutorState!;
        Assert.Matches(@"^algo-1=\d+,algo-2=\d+$", state);
        Assert.True(File.Exists(Path.Combine(jobDirectory, "hosts", "algo-2.lock")));
    }

    [Fact]
    public async Task ServerKilled_HostProcessKilledToo_TheRestartedServerFailsTheJobNamingTheHost()
    {
        using var home = new TempDirectory("vanished");
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho started\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("vanish");
        var port = ServeProcess.FreePort();
        int hostPid;
        using (var serve = ServeProcess.Start(home.Path, port, "--stop-grace-seconds", "1"))
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", TestJobs.Request(name, image, 2).ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", name).Result["SecondaryStatus"]!.GetValue<string>() == "Training",
                TimeSpan.FromSeconds(30), "the job to train");
            serve.Kill(); // SIGKILL, the server only: its hosts are in sessions of their own
            await serve.WaitForExitAsync();
        }

        var plan = Path.Combine(home.Path, "jobs", name, "plan.json");
        hostPid = HostPids(plan).Single(p => p.Host == "algo-2").Pid;
        Assert.Equal(2, HostPids(plan).Count);
        Process.GetProcessById(hostPid).Kill(); // algo-2 vanishes while no server watches

        await using var restarted = await TestServer.StartAsync(o => o with { HostExecutable = TrainyardCli.Executable, StopGracePeriod = TimeSpan.FromSeconds(1), StopJobsOnExit = true }, home);
        var job = await restarted.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        var reason = job["FailureReason"]!.GetValue<string>();
        Assert.Contains("host algo-2's process", reason, StringComparison.Ordinal);
        Assert.Contains(hostPid.ToString(CultureInfo.InvariantCulture), reason, StringComparison.Ordinal);
        // The other host was stopped, not left running.
        await Poll.UntilAsync(() => HostPids(plan).Count == 0 ? "" : null, TimeSpan.FromSeconds(30), "algo-1's process to end");
    }

    /// <summary>
    /// SIGKILL the server at a random moment while 10 local jobs (1 and 2 hosts, 4 instances for all, so some
    /// wait in the queue) download, train and upload; restart; every job completes exactly as without the
    /// crash. <c>TRAINYARD_CHAOS_ROUNDS</c> sets the rounds (3 by default; 20 on demand).
    /// </summary>
    [Fact]
    public async Task Chaos_ServerKilledAtRandomPoints_EveryLocalJobCompletesExactlyOnce()
    {
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("TRAINYARD_CHAOS_ROUNDS"), CultureInfo.InvariantCulture, out var r) ? r : 3;
        var random = new Random(Environment.GetEnvironmentVariable("TRAINYARD_CHAOS_SEED") is { } seed ? int.Parse(seed, CultureInfo.InvariantCulture) : Environment.TickCount);
        using var dir = new TempDirectory("chaos-algo");
        var image = Algorithm(dir);
        for (var round = 0; round < rounds; round++)
        {
            using var home = new TempDirectory("chaos");
            PutData(Path.Combine(home.Path, "objects"));
            var jobs = Enumerable.Range(0, 10).Select(i => (Name: TestJobs.UniqueName($"chaos{round}-{i}"), Hosts: i % 3 == 0 ? 2 : 1)).ToList();
            var port = ServeProcess.FreePort();
            var killAfter = TimeSpan.FromMilliseconds(random.Next(300, 9000));
            var phases = new Dictionary<string, string>();
            using (var serve = ServeProcess.Start(home.Path, port, "--max-instances", "4", "--stop-grace-seconds", "2"))
            {
                var endpoint = new Uri($"http://127.0.0.1:{port}");
                await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
                using var http = new HttpClient { BaseAddress = endpoint };
                foreach (var (name, hosts) in jobs)
                {
                    using var created = await Call(http, "CreateTrainingJob", Request(name, image, hosts).ToJsonString());
                    Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
                }

                await Task.Delay(killAfter);
                foreach (var (name, _) in jobs)
                {
                    using var described = await Call(http, "DescribeTrainingJob", new JsonObject { ["TrainingJobName"] = name }.ToJsonString());
                    var job = JsonNode.Parse(await described.Content.ReadAsStringAsync())!;
                    phases[name] = job["SecondaryStatus"]!.GetValue<string>() + (job["StatusMessage"]?.GetValue<string>() is { } m && m.StartsWith("Waiting", StringComparison.Ordinal) ? " (queued)" : "");
                }

                serve.Kill();
                await serve.WaitForExitAsync();
            }

            output.WriteLine($"round {round}: killed after {killAfter.TotalMilliseconds:F0} ms: {string.Join(", ", phases.Values.GroupBy(p => p).Select(g => $"{g.Count()} {g.Key}"))}");
            await using var restarted = await TestServer.StartAsync(o => o with { HostExecutable = TrainyardCli.Executable, MaxInstances = 4, StopGracePeriod = TimeSpan.FromSeconds(2), StopJobsOnExit = true }, home);
            foreach (var (name, hosts) in jobs)
            {
                var job = await restarted.WaitForEndAsync(name, TimeSpan.FromSeconds(120));
                Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", $"round {round}, {name} ({phases[name]} when killed): {job.ToJsonString()}");
                var transitions = job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>()).ToList();
                Assert.True(transitions.SequenceEqual(["Starting", "Downloading", "Training", "Uploading", "Completed"]), $"round {round}, {name} ({phases[name]} when killed): {string.Join(" → ", transitions)}");
                await CheckAsync(restarted, name, hosts);
            }
        }
    }

    /// <summary>Metric points, log lines and artifacts of a completed job: each exactly once, with the right contents.</summary>
    private static async Task CheckAsync(TestServer server, string name, int hosts)
    {
        var (_, series) = await server.CallAsync("", new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), "Trainyard.GetTrainingJobMetrics");
        var points = series!["Metrics"]!.AsArray();
        Assert.Equal(Steps * hosts, points.Count);
        for (var h = 1; h <= hosts; h++)
        {
            var values = points.Where(p => p!["Host"]!.GetValue<string>().EndsWith($"algo-{h}", StringComparison.Ordinal)).Select(p => p!["Value"]!.GetValue<double>()).Order().ToList();
            Assert.Equal(Enumerable.Range(0, Steps).Select(i => double.Parse($"0.{i}", CultureInfo.InvariantCulture)).Order(), values);
        }

        var steps = server.LogOf(name).Split('\n').Count(l => l.Contains("step=", StringComparison.Ordinal) && l.Contains("loss=", StringComparison.Ordinal));
        Assert.Equal(Steps * hosts, steps);
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal($"{name} algo-1\n", model["who.txt"]);
        Assert.Equal("model\n", model["m.txt"]);
        Assert.Equal(30000000, model["big.bin"].Length);
    }

    private static async Task<HttpResponseMessage> Call(HttpClient http, string operation, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "SageMaker." + operation);
        return await http.SendAsync(request);
    }

    /// <summary>The running <c>trainyard host</c> processes of a plan.</summary>
    /// <summary>The live host processes of a job: each holds <c>hosts/algo-N.lock</c>, which names its PID
    /// (a spare <c>trainyard host --standby</c> that became the host has the plan only in its lock).</summary>
    private static List<(string Host, int Pid)> HostPids(string plan)
    {
        var found = new List<(string, int)>();
        var hosts = Path.Combine(Path.GetDirectoryName(plan)!, "hosts");
        if (!Directory.Exists(hosts))
        {
            return found;
        }

        foreach (var lockFile in Directory.EnumerateFiles(hosts, "*.lock"))
        {
            try
            {
                if (HostLock.Holder(lockFile) is not { } pid)
                {
                    continue;
                }

                var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
                var state = File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2];
                if (args.Contains("host") && state != "Z")
                {
                    found.Add((Path.GetFileNameWithoutExtension(lockFile), pid));
                }
            }
            catch (IOException)
            {
            }
        }

        return found;
    }
}
