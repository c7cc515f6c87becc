using System.Text.Json.Nodes;
using Trainyard.Jobs;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Jobs;

/// <summary>The races found by reading the engine, each driven into its window on purpose.</summary>
public sealed class RaceTests
{
    private static string Statuses(JsonNode job) =>
        string.Join(",", job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>()));

    [Fact]
    public async Task Stop_InTheWindowBeforeTheRunnerIsRegistered_StillStopsTheJob()
    {
        await using var server = await TestServer.StartAsync(o => o with { StopGracePeriod = TimeSpan.FromSeconds(1) });
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile :; do sleep 0.1; done\n");
        var name = TestJobs.UniqueName("early-stop");

        // The job is stored (and visible to StopTrainingJob) before its runner exists: a Stop made the moment
        // the job is stored must reach the runner anyway.
        var stopped = 0;
        server.Server.Store.Changed += job =>
        {
            if (job.Name == name && Interlocked.Exchange(ref stopped, 1) == 0)
            {
                server.Server.Jobs.Stop(name);
            }
        };
        await server.CreateAsync(TestJobs.Request(name, image, maxRuntime: 3600));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(30));
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Equal("Starting,Stopping,Stopped", Statuses(job));
        Assert.Null(job["FailureReason"]);
    }

    [Fact]
    public async Task Stop_WhileTheHostsArePreparing_EndsStoppedNotFailed()
    {
        await using var server = await TestServer.StartAsync(o => o with { StopGracePeriod = TimeSpan.FromSeconds(1) });
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile :; do sleep 0.1; done\n");
        for (var i = 0; i < 5; i++)
        {
            var name = TestJobs.UniqueName("prep-stop");
            await server.CreateAsync(TestJobs.Request(name, image, instances: 3, maxRuntime: 3600));
            var (status, _) = await server.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = name });
            Assert.Equal(200, status);
            var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(30));
            Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Stopped", job.ToJsonString());
            Assert.Null(job["FailureReason"]);
            Assert.EndsWith("Stopping,Stopped", Statuses(job), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Runner_OfEveryEndedJob_IsRemoved()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        // Jobs whose algorithm exits at once, created four at a time: each runner ends soon after it starts.
        server.PutObject("data", "x/a.csv", "1");
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        var names = new List<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (_, _) =>
        {
            var name = TestJobs.UniqueName("fast");
            var request = TestJobs.Request(name, image, channels: [TestJobs.Channel("train", "s3://data/x/")]);
            await server.CreateAsync(request);
            lock (names)
            {
                names.Add(name);
            }
        });

        foreach (var name in names)
        {
            await server.WaitForEndAsync(name, TimeSpan.FromSeconds(120));
        }

        await Poll.UntilAsync(() => names.All(n => server.Server.Jobs.Runner(n) is null), TimeSpan.FromSeconds(10), "every ended job's runner to be gone");
    }
}
