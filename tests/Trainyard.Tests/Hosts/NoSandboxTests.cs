using Trainyard.Tests.Support;

namespace Trainyard.Tests.Hosts;

/// <summary>Without bubblewrap (or with --no-sandbox) hosts are plain processes with the same layout.</summary>
public sealed class NoSandboxTests
{
    [Fact]
    public async Task Job_WithoutSandbox_RunsAsAPlainProcessWithTheLayoutUnderTheHostDirectory()
    {
        await using var server = await TestServer.StartAsync(o => o with { Sandbox = false });
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, """
            #!/bin/sh
            echo "model=$SM_MODEL_DIR channel=$SM_CHANNEL_TRAIN"
            cat "$SM_CHANNEL_TRAIN/a.csv"
            test -f "$SM_INPUT_CONFIG_DIR/resourceconfig.json" && echo config-ok
            echo weights > "$SM_MODEL_DIR/w.txt"
            """);
        server.PutObject("data", "train/a.csv", "row-1\n");
        var name = TestJobs.UniqueName("plain");
        await server.CreateAsync(TestJobs.Request(name, image, channels: [TestJobs.Channel("train", "s3://data/train/")]));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", server.LogOf(name));

        var hostDir = Path.Combine(server.Options.JobDirectory(name), "hosts", "algo-1");
        var log = server.LogOf(name);
        Assert.Contains("bubblewrap is not available (or disabled): algo-1 runs as a plain process", log, StringComparison.Ordinal);
        Assert.Contains($"model={hostDir}/model channel={hostDir}/input/data/train", log, StringComparison.Ordinal);
        Assert.Contains("row-1", log, StringComparison.Ordinal);
        Assert.Contains("config-ok", log, StringComparison.Ordinal);
        Assert.Equal("weights\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["w.txt"]);
    }
}
