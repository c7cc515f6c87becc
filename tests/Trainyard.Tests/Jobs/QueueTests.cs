using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Trainyard.Jobs;
using Trainyard.Model;
using Trainyard.Persistence;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Jobs;

/// <summary>Capacity as a queue: jobs wait their turn, first in first out, and say what they wait for.</summary>
public sealed class QueueTests
{
    private static string Message(JsonNode job) => job["SecondaryStatusTransitions"]!.AsArray()[^1]!["StatusMessage"]!.GetValue<string>();

    [Fact]
    public async Task Create_JobThatCouldNeverFit_IsResourceLimitExceeded()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxInstances = 4, Capacity = new Dictionary<string, int> { ["ml.c5.xlarge"] = 2 } });
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        var (status, body) = await server.CallAsync("CreateTrainingJob", TestJobs.Request("too-many", image, instances: 5));
        Assert.Equal(400, status);
        Assert.Equal("ResourceLimitExceeded", body!["__type"]!.GetValue<string>().Split('#')[^1]);
        Assert.Contains("--max-instances", body["message"]!.GetValue<string>(), StringComparison.Ordinal);

        var typed = TestJobs.Request("too-many-of-a-type", image, instances: 3);
        typed["ResourceConfig"]!["InstanceType"] = "ml.c5.xlarge";
        (status, body) = await server.CallAsync("CreateTrainingJob", typed);
        Assert.Equal(400, status);
        Assert.Contains("--capacity ml.c5.xlarge=N", body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get("too-many"));
    }

    [Fact]
    public async Task Queue_JobsBeyondCapacity_WaitSayingWhatForAndStartAsItFrees()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxInstances = 3, Capacity = new Dictionary<string, int> { ["ml.m5.large"] = 2 } });
        using var dir = new TempDirectory();
        // Each algorithm runs until the test creates a file named after its job in its /opt/ml.
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile [ ! -e /opt/ml/release ]; do sleep 0.05; done\n");
        var big = TestJobs.UniqueName("big");
        var next = TestJobs.UniqueName("next");
        var last = TestJobs.UniqueName("last");
        var other = TestJobs.UniqueName("other");
        await server.CreateAsync(TestJobs.Request(big, image, instances: 2));
        await server.CreateAsync(TestJobs.Request(next, image, instances: 2));
        await server.CreateAsync(TestJobs.Request(last, image));
        var otherRequest = TestJobs.Request(other, image);
        otherRequest["ResourceConfig"]!["InstanceType"] = "ml.c5.xlarge";
        await server.CreateAsync(otherRequest);

        await server.WaitForSecondaryAsync(big, "Training");
        await Poll.UntilAsync(() => server.Server.Store.Get(next)!.StatusMessage == "Waiting for 2 ml.m5.large instances: no jobs ahead", TimeSpan.FromSeconds(10), "next's message");
        await Poll.UntilAsync(() => server.Server.Store.Get(last)!.StatusMessage == "Waiting for 1 ml.m5.large instance: 1 job ahead", TimeSpan.FromSeconds(10), "last's message");
        Assert.Equal("Starting", (await server.DescribeAsync(next))["SecondaryStatus"]!.GetValue<string>());
        Assert.Equal("Waiting for 1 ml.m5.large instance: 1 job ahead", Message(await server.DescribeAsync(last)));

        // First in, first out: the ml.c5.xlarge job fits the total of 3, but two jobs are ahead of it.
        Assert.Equal("Waiting for 1 ml.c5.xlarge instance: 2 jobs ahead", server.Server.Store.Get(other)!.StatusMessage);
        Assert.Equal([next, last, other], server.Server.Jobs.Scheduler.Queued);

        Release(server, big, 2);
        await server.WaitForSecondaryAsync(next, "Training");
        Assert.Equal("Starting,Downloading,Training", string.Join(",", server.Server.Store.Get(next)!.Transitions.Select(t => t.Status)));
        Assert.Equal("Preparing the instances for training", server.Server.Store.Get(next)!.Transitions[0].StatusMessage);
        await Poll.UntilAsync(() => server.Server.Store.Get(last)!.StatusMessage == "Waiting for 1 ml.m5.large instance: no jobs ahead", TimeSpan.FromSeconds(10), "last to move up");

        Release(server, next, 2);
        await server.WaitForSecondaryAsync(last, "Training");
        await server.WaitForSecondaryAsync(other, "Training");
        Release(server, last, 1);
        Release(server, other, 1);
        foreach (var name in new[] { big, next, last, other })
        {
            Assert.Equal("Completed", (await server.WaitForEndAsync(name))["TrainingJobStatus"]!.GetValue<string>());
        }

        Assert.Equal(0, server.Server.Jobs.Scheduler.InUse);
    }

    [Fact]
    public async Task Stop_JobWaitingInTheQueue_EndsStoppedWithoutRunning()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxInstances = 1 });
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile [ ! -e /opt/ml/release ]; do sleep 0.05; done\n");
        var first = TestJobs.UniqueName("first");
        var waiting = TestJobs.UniqueName("waiting");
        await server.CreateAsync(TestJobs.Request(first, image));
        await server.CreateAsync(TestJobs.Request(waiting, image));
        var (status, _) = await server.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = waiting });
        Assert.Equal(200, status);
        var job = await server.WaitForEndAsync(waiting);
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("Starting,Stopping,Stopped", string.Join(",", job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>())));
        Assert.False(Directory.Exists(Path.Combine(server.Options.JobDirectory(waiting), "hosts")));
        Release(server, first, 1);
        await server.WaitForEndAsync(first);
    }

    [Fact]
    public async Task Queue_TwoHundredJobsOnTwoInstances_NeverMoreThanTwoAtOnceFirstInFirstOutAllCompleted()
    {
        using var shared = new TempDirectory("queue200");
        await using var server = await TestServer.StartAsync(o => o with { MaxInstances = 2, Sandbox = false });
        // Each algorithm notes its start and end in one file under a lock, counting how many run at once.
        var image = TestJobs.Algorithm(shared, $$"""
            #!/bin/sh
            exec 9>>{{shared["lock"]}}
            flock 9; n=$(cat {{shared["running"]}} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{shared["running"]}}; echo "start $TRAINING_JOB_NAME $n" >> {{shared["log"]}}; flock -u 9
            sleep 0.02
            flock 9; n=$(cat {{shared["running"]}}); echo $((n-1)) > {{shared["running"]}}; echo "end $TRAINING_JOB_NAME" >> {{shared["log"]}}; flock -u 9
            """);
        var names = Enumerable.Range(0, 200).Select(i => $"q200-{i:D3}").ToList();
        foreach (var name in names)
        {
            await server.CreateAsync(TestJobs.Request(name, image));
        }

        foreach (var name in names)
        {
            Assert.Equal("Completed", (await server.WaitForEndAsync(name, TimeSpan.FromMinutes(10)))["TrainingJobStatus"]!.GetValue<string>());
        }

        var log = File.ReadAllLines(shared["log"]);
        Assert.Equal(400, log.Length);
        Assert.All(log.Where(l => l.StartsWith("start", StringComparison.Ordinal)), l => Assert.True(int.Parse(l.Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture) <= 2, l));

        // First in, first out: two jobs admitted together may start their algorithms in either order, no more.
        var starts = log.Where(l => l.StartsWith("start", StringComparison.Ordinal)).Select(l => names.IndexOf(l.Split(' ')[1])).ToList();
        Assert.All(starts.Select((job, position) => (job, position)), s => Assert.True(Math.Abs(s.job - s.position) <= 1, $"job {s.job} started {s.position}th"));
        Assert.Equal(0, server.Server.Jobs.Scheduler.InUse);
    }

    [Fact]
    public async Task PendingTime_JobWaitingLongerThanMaxPendingTime_Fails()
    {
        // MaxPendingTimeInSeconds is at least 7200 in SageMaker's API: the scheduler is driven with a clock of its own.
        using var home = new TempDirectory("pending");
        using var db = new TrainyardDatabase(home["trainyard.db"]);
        var store = new JobStore(db);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var started = new List<string>();
        var scheduler = new JobScheduler(new TrainyardOptions { Home = home.Path, MaxInstances = 1 }, store, j => started.Add(j.Name), NullLogger.Instance, time);
        JobRecord Job(string name, int? maxPending)
        {
            var request = JsonSerializer.Deserialize(TestJobs.Request(name, "/bin/true").ToJsonString(), TrainyardJsonContext.Default.CreateTrainingJobRequest)!;
            request = request with { StoppingCondition = request.StoppingCondition with { MaxPendingTimeInSeconds = maxPending } };
            var job = JobStateMachine.Start(new JobRecord
            {
                Name = name, Arn = "arn", Sequence = store.NextSequence(), Definition = request, DefinitionJson = "{}", ImagePath = "/bin/true",
                Status = TrainingJobStatus.InProgress, SecondaryStatus = SecondaryStatus.Starting, CreationTime = time.GetUtcNow(), LastModifiedTime = time.GetUtcNow(),
            }, time.GetUtcNow());
            store.TryCreate(job);
            return job;
        }

        var running = Job("running", null);
        scheduler.Enqueue(running);
        scheduler.Enqueue(Job("patient", null));
        scheduler.Enqueue(Job("impatient", 7200));
        using var cts = new CancellationTokenSource();
        var loop = scheduler.RunAsync(cts.Token);
        await Poll.UntilAsync(() => store.Get("impatient")!.StatusMessage.StartsWith("Waiting for 1 ml.m5.large instance: 1 job ahead", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the waiting message");
        time.Advance(TimeSpan.FromSeconds(7201));
        await Poll.UntilAsync(() => store.Get("impatient")!.IsTerminal, TimeSpan.FromSeconds(10), "the impatient job to fail");
        var failed = store.Get("impatient")!;
        Assert.Equal(TrainingJobStatus.Failed, failed.Status);
        Assert.StartsWith("CapacityError: the job waited 7201 s for 1 ml.m5.large instance, longer than StoppingCondition.MaxPendingTimeInSeconds (7200 s)", failed.FailureReason, StringComparison.Ordinal);
        Assert.Equal(["patient"], scheduler.Queued);
        Assert.Equal(["running"], started);

        scheduler.Release(running);
        Assert.Equal(["running", "patient"], started);
        await cts.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task Restart_QueuedJobs_WaitAgainAndStartInTheirOrder()
    {
        using var home = new TempDirectory("queue-restart");
        using var shared = new TempDirectory("queue-restart-log");
        // Without a sandbox /opt/ml is the host directory, which SM_MODEL_DIR is in.
        var image = TestJobs.Algorithm(shared, $"#!/bin/sh\necho \"$TRAINING_JOB_NAME\" >> {shared["order"]}\nwhile [ ! -e \"$SM_MODEL_DIR/../release\" ] && [ -d {shared.Path} ]; do sleep 0.05; done\n");
        // (The first job's host outlives the SIGKILLed server, and the restarted one does not own it: it ends when the test's directory goes.)
        var names = new[] { "first", "second", "third", "fourth" };
        var port = ServeProcess.FreePort();
        using (var serve = ServeProcess.Start(home.Path, port, "--max-instances", "1", "--no-sandbox"))
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            foreach (var name in names)
            {
                await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", TestJobs.Request(name, image).ToJsonString());
            }

            await Poll.UntilAsync(() => File.Exists(shared["order"]), TimeSpan.FromSeconds(30), "the first job to run");
            var waiting = await AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", "fourth");
            Assert.Equal("Waiting for 1 ml.m5.large instance: 2 jobs ahead", Message(waiting));
            serve.Kill(); // SIGKILL: no chance to clean up
            await serve.WaitForExitAsync();
        }

        await using var restarted = await TestServer.StartAsync(o => o with { MaxInstances = 1, Sandbox = false }, home);
        Assert.Equal(["third", "fourth"], restarted.Server.Jobs.Scheduler.Queued.TakeLast(2));
        await Poll.UntilAsync(() => restarted.Server.Store.Get("fourth")!.StatusMessage == "Waiting for 1 ml.m5.large instance: 1 job ahead", TimeSpan.FromSeconds(10), "the queue's messages");
        foreach (var name in names)
        {
            await Poll.UntilAsync(() => restarted.Server.Store.Get(name) is { SecondaryStatus: SecondaryStatus.Training } or { IsTerminal: true },
                TimeSpan.FromSeconds(60), $"{name} to run");
            if (!restarted.Server.Store.Get(name)!.IsTerminal)
            {
                Release(restarted, name, 1);
            }

            await restarted.WaitForEndAsync(name);
        }

        Assert.Equal(names, File.ReadAllLines(shared["order"]));
        foreach (var name in names.Skip(1))
        {
            Assert.Equal(TrainingJobStatus.Completed, restarted.Server.Store.Get(name)!.Status);
        }
    }

    private static void Release(TestServer server, string job, int hosts)
    {
        for (var i = 1; i <= hosts; i++)
        {
            File.WriteAllText(Path.Combine(server.Options.JobDirectory(job), "hosts", $"algo-{i}", "release"), "go");
        }
    }
}
