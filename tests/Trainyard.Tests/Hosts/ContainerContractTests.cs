using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Hosts;

/// <summary>What the algorithm sees inside its sandboxed host, checked from inside by the algorithm itself.</summary>
public sealed class ContainerContractTests
{
    // Copies what the host sees into the model directory, so the test reads it from the uploaded artifact.
    private const string Inspector = """
        #!/bin/sh
        set -e
        out=/opt/ml/model/$(hostname)
        mkdir -p $out
        cp /opt/ml/input/config/*.json $out/
        env | sort > $out/env.txt
        hostname > $out/hostname.txt
        cat /etc/hosts > $out/hosts.txt
        ( cd /opt/ml/input/data && find . -type f | sort ) > $out/files.txt
        echo "$@" > $out/argv.txt
        """;

    [Fact]
    public async Task Job_TwoHosts_EachSeesTheFullContract()
    {
        if (!File.Exists("/usr/bin/bwrap"))
        {
            Assert.Fail("bubblewrap is not installed: run ./test.sh, which installs it.");
        }

        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Inspector);
        for (var i = 0; i < 5; i++)
        {
            server.PutObject("data", $"train/part-{i}.csv", $"row {i}\n");
        }

        server.PutObject("data", "test/nested/deep/x.csv", "x\n");
        var name = TestJobs.UniqueName("contract");
        var request = TestJobs.Request(name, image, instances: 2, channels:
        [
            TestJobs.Channel("train", "s3://data/train/", "ShardedByS3Key"),
            TestJobs.Channel("test", "s3://data/test"),
        ], hyperParameters: new JsonObject { ["epochs"] = "3", ["learning-rate"] = "0.1", ["name"] = "trial" });
        request["Environment"] = new JsonObject { ["MY_SETTING"] = "on" };
        request["InputDataConfig"]![0]!["ContentType"] = "text/csv";

        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());

        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        var shards = new List<string>();
        foreach (var host in new[] { "algo-1", "algo-2" })
        {
            Assert.Equal(host + "\n", model[$"{host}/hostname.txt"]);
            var resource = JsonNode.Parse(model[$"{host}/resourceconfig.json"])!;
            Assert.Equal(host, resource["current_host"]!.GetValue<string>());
            Assert.Equal(["algo-1", "algo-2"], resource["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
            Assert.Equal("ml.m5.large", resource["current_instance_type"]!.GetValue<string>());
            Assert.Equal("homogeneousCluster", resource["current_group_name"]!.GetValue<string>());

            var hps = JsonNode.Parse(model[$"{host}/hyperparameters.json"])!;
            Assert.Equal("3", hps["epochs"]!.GetValue<string>());

            var channels = JsonNode.Parse(model[$"{host}/inputdataconfig.json"])!;
            Assert.Equal("File", channels["train"]!["TrainingInputMode"]!.GetValue<string>());
            Assert.Equal("ShardedByS3Key", channels["train"]!["S3DistributionType"]!.GetValue<string>());
            Assert.Equal("None", channels["train"]!["RecordWrapperType"]!.GetValue<string>());
            Assert.Equal("text/csv", channels["train"]!["ContentType"]!.GetValue<string>());
            Assert.Equal("FullyReplicated", channels["test"]!["S3DistributionType"]!.GetValue<string>());

            var config = JsonNode.Parse(model[$"{host}/trainingjobconfig.json"])!;
            Assert.Equal(name, config["TrainingJobName"]!.GetValue<string>());

            var env = model[$"{host}/env.txt"].Split('\n').Where(l => l.Contains('=')).ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);
            Assert.Equal(name, env["TRAINING_JOB_NAME"]);
            Assert.StartsWith("arn:aws:sagemaker:us-east-1:000000000000:training-job/", env["TRAINING_JOB_ARN"], StringComparison.Ordinal);
            Assert.Equal("on", env["MY_SETTING"]);
            Assert.Equal("/opt/ml/model", env["SM_MODEL_DIR"]);
            Assert.Equal("/opt/ml/input/data/train", env["SM_CHANNEL_TRAIN"]);
            Assert.Equal("/opt/ml/input/data/test", env["SM_CHANNEL_TEST"]);
            Assert.Equal("[\"train\",\"test\"]", env["SM_CHANNELS"]);
            Assert.Equal("[\"algo-1\",\"algo-2\"]", env["SM_HOSTS"]);
            Assert.Equal(host, env["SM_CURRENT_HOST"]);
            Assert.Equal("0.1", env["SM_HP_LEARNING_RATE"]);
            Assert.Equal("trial", env["SM_HP_NAME"]);
            Assert.Equal("3", JsonNode.Parse(env["SM_HPS"])!["epochs"]!.ToJsonString());
            Assert.Equal("/opt/ml/input", env["SM_INPUT_DIR"]);
            Assert.Equal("/opt/ml/input/config", env["SM_INPUT_CONFIG_DIR"]);
            Assert.Equal("/opt/ml/output", env["SM_OUTPUT_DIR"]);
            Assert.Equal($"/opt/ml/output/data/{host}", env["SM_OUTPUT_DATA_DIR"]);
            Assert.Equal("/opt/ml/output/intermediate", env["SM_OUTPUT_INTERMEDIATE_DIR"]);
            Assert.Equal("ml.m5.large", env["SM_CURRENT_INSTANCE_TYPE"]);
            Assert.Equal("0", env["SM_NUM_GPUS"]);
            Assert.Equal(Math.Min(2, Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture), env["SM_NUM_CPUS"]);
            Assert.Equal(host, JsonNode.Parse(env["SM_TRAINING_ENV"])!["current_host"]!.GetValue<string>());
            Assert.Equal(host, JsonNode.Parse(env["SM_RESOURCE_CONFIG"])!["current_host"]!.GetValue<string>());
            Assert.Equal("ShardedByS3Key", JsonNode.Parse(env["SM_INPUT_DATA_CONFIG"])!["train"]!["S3DistributionType"]!.GetValue<string>());
            Assert.Contains("--epochs", env["SM_USER_ARGS"], StringComparison.Ordinal);
            Assert.Equal("us-east-1", env["AWS_REGION"]);

            var hosts = model[$"{host}/hosts.txt"];
            Assert.Matches(@"127\.\d+\.\d+\.11\talgo-1", hosts);
            Assert.Matches(@"127\.\d+\.\d+\.12\talgo-2", hosts);

            var files = model[$"{host}/files.txt"].Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
            Assert.Contains("./test/nested/deep/x.csv", files);
            shards.AddRange(files.Where(f => f.StartsWith("./train/", StringComparison.Ordinal)));
        }

        // ShardedByS3Key: disjoint shares whose union is every object.
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"./train/part-{i}.csv"), shards.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Job_TwoHosts_Algo2ConnectsToAlgo1ByName()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        // algo-1 serves one TCP message on its own address; algo-2 resolves "algo-1" and connects.
        var image = TestJobs.Algorithm(dir, """
            #!/usr/bin/python3
            import os, socket, time
            host = os.environ["SM_CURRENT_HOST"]
            if host == "algo-1":
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((socket.gethostbyname("algo-1"), 29500)); s.listen(1)
                conn, peer = s.accept()
                msg = conn.recv(100).decode()
                conn.sendall(b"hello algo-2")
                open("/opt/ml/model/algo-1-received.txt", "w").write(f"{msg} from {peer[0]}")
            else:
                for attempt in range(200):
                    try:
                        c = socket.create_connection(("algo-1", 29500), timeout=2); break
                    except OSError:
                        time.sleep(0.05)
                c.sendall(b"hello algo-1")
                open("/opt/ml/model/algo-2-received.txt", "w").write(c.recv(100).decode())
            """);
        var name = TestJobs.UniqueName("net");
        await server.CreateAsync(TestJobs.Request(name, image, instances: 2));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name));
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("hello algo-2", model["algo-2-received.txt"]);
        // Hosts share the machine's network namespace: the peer's source address is loopback, not algo-2's own.
        Assert.StartsWith("hello algo-1 from 127.", model["algo-1-received.txt"], StringComparison.Ordinal);
    }
}
