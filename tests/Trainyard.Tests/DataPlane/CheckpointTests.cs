using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.DataPlane;

/// <summary>CheckpointConfig: restore before training, upload while training and at the end.</summary>
public sealed class CheckpointTests
{
    [Fact]
    public async Task Checkpoints_UploadedWhileTraining_RestoredIntoTheNextJob_SyncedOnStop()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, """
            #!/bin/sh
            trap 'echo final > /opt/ckpt/last.txt; exit 0' TERM
            if [ -f /opt/ckpt/epoch-1.txt ]; then echo "resumed from $(cat /opt/ckpt/epoch-1.txt)"; fi
            mkdir -p /opt/ckpt/sub
            echo "weights after epoch 1" > /opt/ckpt/epoch-1.txt
            echo nested > /opt/ckpt/sub/state.bin
            echo checkpointed
            while :; do sleep 0.1; done
            """);
        var first = TestJobs.UniqueName("ckpt");
        var request = TestJobs.Request(first, image);
        request["CheckpointConfig"] = new JsonObject { ["S3Uri"] = "s3://ckpts/run-1", ["LocalPath"] = "/opt/ckpt" };
        await server.CreateAsync(request);

        // Uploaded while the algorithm still runs.
        var uploaded = Path.Combine(server.Objects, "ckpts", "run-1", "epoch-1.txt");
        await Poll.UntilAsync(() => File.Exists(uploaded), TimeSpan.FromSeconds(20), "the checkpoint to be uploaded while training");
        Assert.Equal(Trainyard.Jobs.TrainingJobStatus.InProgress, server.Server.Store.Get(first)!.Status);
        Assert.Equal("weights after epoch 1\n", File.ReadAllText(uploaded));
        await Poll.UntilAsync(() => File.Exists(Path.Combine(server.Objects, "ckpts", "run-1", "sub", "state.bin")), TimeSpan.FromSeconds(20), "the nested checkpoint");

        // A stop still syncs what the algorithm wrote in its grace period.
        await server.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = first });
        await server.WaitForEndAsync(first);
        Assert.Equal("final\n", File.ReadAllText(Path.Combine(server.Objects, "ckpts", "run-1", "last.txt")));

        // The next job with the same S3Uri starts from the checkpoints.
        var second = TestJobs.UniqueName("ckpt2");
        var again = TestJobs.Request(second, image, maxRuntime: 2);
        again["CheckpointConfig"] = new JsonObject { ["S3Uri"] = "s3://ckpts/run-1", ["LocalPath"] = "/opt/ckpt" };
        await server.CreateAsync(again);
        await server.WaitForEndAsync(second, TimeSpan.FromSeconds(30));
        Assert.Contains("resumed from weights after epoch 1", server.LogOf(second), StringComparison.Ordinal);
        Assert.Contains("Restored 3 checkpoint files", server.LogOf(second), StringComparison.Ordinal);
    }
}
