using System.Collections.Concurrent;
using System.Formats.Tar;
using System.Text.Json.Nodes;
using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.OciLayoutBuilder;

namespace Trainyard.Tests.Images;

/// <summary>Training jobs whose TrainingImage is an image in a real registry, run by the real server in real sandboxes.</summary>
[Collection("registry")]
public sealed class ImageJobTests(RegistryFixture registries)
{
    // The algorithm checks the contract from inside and leaves what it saw in the model.
    private const string Train = """
        #!/bin/sh
        set -e
        out=/opt/ml/model
        echo "train argv: $0 $*"
        id -u > $out/uid
        id -g > $out/gid
        pwd > $out/pwd
        hostname > $out/hostname
        echo "$GREETING" > $out/greeting
        echo "$SM_CURRENT_HOST $SM_HP_EPOCHS $TRAINING_JOB_NAME" > $out/sm
        stat -c %u /bin/busybox > $out/busybox-owner
        cat /opt/ml/input/config/hyperparameters.json > $out/hyperparameters.json
        cat /opt/ml/input/data/train/part-0.csv > $out/train-data
        cat /opt/ml/input/data/stream_0 > $out/pipe-data
        /opt/ml/code/helper.sh > $out/code
        if [ "$(id -u)" = 0 ]; then touch /etc/written-to-the-root; fi
        ls /opt/ml > $out/opt-ml
        echo "accuracy=0.93"
        """;

    private async Task<string> PushAlgorithmAsync(TempDirectory dir, string repository, string? user = null, string train = Train)
    {
        var layout = new OciLayoutBuilder(dir["layout-" + repository.Replace('/', '-')]);
        var busybox = layout.AddLayer(w => Busybox(w, train));
        var code = layout.AddLayer(w =>
        {
            Dir(w, "opt");
            Dir(w, "opt/ml");
            Dir(w, "opt/ml/code");
            Text(w, "opt/ml/code/helper.sh", "#!/bin/sh\necho code from the image\n", 0x1ED);
            Text(w, "usr/local/bin/entry", "#!/bin/sh\necho \"entrypoint got: $*\"\nexec \"$@\"\n", 0x1ED);
            Dir(w, "work", uid: 1000, gid: 1000);
            Dir(w, "home");
            Dir(w, "home/trainer", uid: 1000, gid: 1000);
        });
        layout.Tag(layout.AddImage([busybox, code], entrypoint: ["/usr/local/bin/entry"], cmd: ["serve"],
            env: ["PATH=/usr/local/bin:/bin", "GREETING=hello from the image config"], workingDir: "/work", user: user), "1");
        return await registries.Open.PushAsync(layout.Directory, "1", repository);
    }

    private static JsonObject Request(string name, string image, int instances = 1)
    {
        var request = TestJobs.Request(name, image, instances, channels: [TestJobs.Channel("train", "s3://data/train/")], hyperParameters: new JsonObject { ["epochs"] = "4" });
        var stream = TestJobs.Channel("stream", "s3://data/train/");
        stream["InputMode"] = "Pipe";
        request["InputDataConfig"]!.AsArray().Add(stream);
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "accuracy", ["Regex"] = "accuracy=([0-9.]+)" });
        return request;
    }

    [Fact]
    public async Task ImageJob_FromRegistry_RunsSageMakersContractInsideTheImage()
    {
        using var dir = new TempDirectory("image-job");
        var image = await PushAlgorithmAsync(dir, "jobs/contract");
        await using var server = await TestServer.StartAsync();
        server.PutObject("data", "train/part-0.csv", "1,2,3\n");
        var messages = new ConcurrentQueue<string>();
        server.Server.Store.Changed += r => messages.Enqueue(r.SecondaryStatus + ": " + (r.Transitions.LastOrDefault()?.StatusMessage ?? ""));
        var name = TestJobs.UniqueName("image");

        await server.CreateAsync(Request(name, image));
        var job = await server.WaitForEndAsync(name);

        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("0\n", model["uid"]);
        Assert.Equal("0\n", model["busybox-owner"]);
        Assert.Equal("/work\n", model["pwd"]);
        Assert.Equal("algo-1\n", model["hostname"]);
        Assert.Equal("hello from the image config\n", model["greeting"]);
        Assert.Equal($"algo-1 4 {name}\n", model["sm"]);
        Assert.Equal("1,2,3\n", model["train-data"]);
        Assert.Equal("1,2,3\n", model["pipe-data"]);
        Assert.Equal("code from the image\n", model["code"]);
        Assert.Equal(["checkpoints", "code", "input", "model", "output"], model["opt-ml"].Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());

        // SageMaker's order and words: the image is downloaded inside Training.
        var seen = messages.Distinct().ToList();
        var pulling = seen.IndexOf("Training: Downloading the training image");
        var training = seen.IndexOf("Training: Training image download completed. Training in progress.");
        Assert.True(seen.IndexOf("Downloading: Downloading input data") < pulling && pulling < training, string.Join(" | ", seen));
        var transitions = job["SecondaryStatusTransitions"]!.AsArray().Select(t => t!["Status"]!.GetValue<string>()).ToList();
        Assert.Equal(["Starting", "Downloading", "Training", "Uploading", "Completed"], transitions);

        var log = server.LogOf(name);
        Assert.Contains("entrypoint got: train", log, StringComparison.Ordinal);
        Assert.Contains($"Pulled {image}", log, StringComparison.Ordinal);
        Assert.Equal(0.93, job["FinalMetricDataList"]![0]!["Value"]!.GetValue<double>());

        // The writable root was the host's own: discarded, and nothing left mounted.
        Assert.False(Directory.Exists(Path.Combine(server.Home, "jobs", name, "hosts", "algo-1.overlay")));
        Assert.DoesNotContain(File.ReadLines("/proc/self/mountinfo"), l => l.Contains(Path.Combine(server.Home, "jobs", name), StringComparison.Ordinal));

        // A second job finds the image in the cache.
        var again = TestJobs.UniqueName("image");
        await server.CreateAsync(Request(again, image));
        Assert.Equal("Completed", (await server.WaitForEndAsync(again))["TrainingJobStatus"]!.GetValue<string>());
        var secondLog = server.LogOf(again);
        Assert.Contains("Using the cached image", secondLog, StringComparison.Ordinal);

        // Layers gone from under a tag (a prune, a hand): the host pulls them again instead of mounting nothing.
        foreach (var layer in Directory.EnumerateDirectories(Path.Combine(server.Home, "images", "layers")))
        {
            Directory.Delete(layer, recursive: true);
        }

        var pruned = TestJobs.UniqueName("image");
        await server.CreateAsync(Request(pruned, image));
        Assert.Equal("Completed", (await server.WaitForEndAsync(pruned))["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains($"Pulled {image}", server.LogOf(pruned), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageJob_UserAndContainerEntrypoint_ApplyAsInSageMaker()
    {
        using var dir = new TempDirectory("image-job");
        var image = await PushAlgorithmAsync(dir, "jobs/user", user: "trainer");
        await using var server = await TestServer.StartAsync();
        server.PutObject("data", "train/part-0.csv", "1,2,3\n");
        var name = TestJobs.UniqueName("user");
        await server.CreateAsync(Request(name, image));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("1000\n", model["uid"]);
        Assert.Equal("1000\n", model["gid"]);
        Assert.Equal("0\n", model["busybox-owner"]);

        var overridden = TestJobs.UniqueName("entry");
        var request = TestJobs.Request(overridden, image);
        request["AlgorithmSpecification"]!["ContainerEntrypoint"] = new JsonArray("/bin/sh", "-c");
        request["AlgorithmSpecification"]!["ContainerArguments"] = new JsonArray("echo overridden on $SM_CURRENT_HOST > /opt/ml/model/entry");
        await server.CreateAsync(request);
        job = await server.WaitForEndAsync(overridden);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", overridden, "output", "model.tar.gz"));
        Assert.Equal("overridden on algo-1\n", model["entry"]);
    }

    [Fact]
    public async Task ImageJob_EcrUriMappedToAnotherRegistry_RunsUnchanged()
    {
        using var dir = new TempDirectory("image-job");
        var image = await PushAlgorithmAsync(dir, "jobs/mapped", train: "#!/bin/sh\necho mapped > /opt/ml/model/which\n");
        const string Ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo";
        await using var server = await TestServer.StartAsync(o => o with { Images = new Dictionary<string, string> { [Ecr] = image } });
        var name = TestJobs.UniqueName("mapped");
        await server.CreateAsync(TestJobs.Request(name, Ecr + ":7"));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        Assert.Equal(Ecr + ":7", job["AlgorithmSpecification"]!["TrainingImage"]!.GetValue<string>());
        Assert.Equal("mapped\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["which"]);
    }

    [Fact]
    public async Task ImageJob_LayeredImage_SeesTheLayersAsDockerWould_FromARegistryInDockerFormatAndFromArchives()
    {
        using var dir = new TempDirectory("image-job");
        var layout = new OciLayoutBuilder(dir["layout"]);
        const string Look = """
            #!/bin/sh
            out=/opt/ml/model
            ls /data > $out/data
            ls /opaque > $out/opaque
            stat -c %h /hard/a > $out/links
            [ "$(stat -c %i /hard/a)" = "$(stat -c %i /hard/b)" ] && echo same > $out/inode
            cat /hard/b > $out/hard-b
            readlink /lib64-link > $out/symlink
            """;
        var lower = layout.AddLayer(w =>
        {
            Busybox(w, Look);
            Dir(w, "data");
            Text(w, "data/keep", "kept");
            Text(w, "data/gone", "must be hidden by the upper layer's whiteout");
            Dir(w, "opaque");
            Text(w, "opaque/old", "must be hidden by the opaque directory");
            Link(w, TarEntryType.SymbolicLink, "lib64-link", "/lib64/ld-linux-x86-64.so.2");
        });
        var upper = layout.AddLayer(w =>
        {
            Dir(w, "data");
            Text(w, "data/.wh.gone", "");
            Dir(w, "opaque");
            Text(w, "opaque/.wh..wh..opq", "");
            Text(w, "opaque/new", "new");
            Dir(w, "hard");
            Text(w, "hard/a", "one file, two names");
            Link(w, TarEntryType.HardLink, "hard/b", "hard/a");
        }, gzip: false);
        layout.Tag(layout.AddImage([lower, upper], env: ["PATH=/usr/local/bin:/bin"]), "1");

        // The same image three ways: Docker's v2 manifest and layer types from a registry, the OCI layout on
        // disk, and the docker-archive that skopeo (like `docker save`) writes.
        var docker = await registries.Open.PushAsync(layout.Directory, "1", "jobs/layered", format: "v2s2");
        using (var http = new HttpClient())
        {
            using var get = new HttpRequestMessage(HttpMethod.Get, $"http://{registries.Open.Address}/v2/jobs/layered/manifests/1");
            get.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
            using var response = await http.SendAsync(get);
            var manifest = await response.Content.ReadAsStringAsync();
            Assert.Equal("application/vnd.docker.distribution.manifest.v2+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("application/vnd.docker.image.rootfs.diff.tar.gzip", manifest, StringComparison.Ordinal);
        }

        var (code, _, stderr) = await Tools.RunAsync("skopeo", "copy", "--quiet", $"oci:{layout.Directory}:1", $"docker-archive:{dir["layered.tar"]}:layered:1");
        Assert.True(code == 0, stderr);
        await using var server = await TestServer.StartAsync();
        foreach (var image in new[] { docker, $"oci:{layout.Directory}:1", $"docker-archive:{dir["layered.tar"]}" })
        {
            var name = TestJobs.UniqueName("layered");
            await server.CreateAsync(TestJobs.Request(name, image));
            var job = await server.WaitForEndAsync(name);
            Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", image + ": " + job.ToJsonString());
            var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
            Assert.Equal("keep\n", model["data"]);
            Assert.Equal("new\n", model["opaque"]);
            Assert.Equal("2\n", model["links"]);
            Assert.Equal("same\n", model["inode"]);
            Assert.Equal("one file, two names", model["hard-b"]);
            Assert.Equal("/lib64/ld-linux-x86-64.so.2\n", model["symlink"]);
        }
    }

    [Fact]
    public async Task ImageJob_ImageOf150Layers_MountsEveryLayer()
    {
        // Each layer directory as an overlay option is ~100 bytes: 150 of them in one option string would pass the
        // kernel's 4096-byte limit for mount data.
        using var dir = new TempDirectory("image-job");
        var layout = new OciLayoutBuilder(dir["layout"]);
        var layers = new List<Layer> { layout.AddLayer(w => Busybox(w, "#!/bin/sh\nls /layers | wc -l > /opt/ml/model/count\ncat /layers/layer-1 /layers/layer-150 > /opt/ml/model/ends\n")) };
        for (var i = 1; i <= 150; i++)
        {
            var n = i;
            layers.Add(layout.AddLayer(w =>
            {
                Dir(w, "layers");
                Text(w, $"layers/layer-{n}", $"{n}\n");
            }));
        }

        layout.Tag(layout.AddImage(layers, env: ["PATH=/usr/local/bin:/bin"]), "1");
        var image = await registries.Open.PushAsync(layout.Directory, "1", "jobs/many-layers");
        await using var server = await TestServer.StartAsync();
        var name = TestJobs.UniqueName("layers");
        await server.CreateAsync(TestJobs.Request(name, image));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("150", model["count"].Trim());
        Assert.Equal("1\n150\n", model["ends"]);
    }

    [Fact]
    public async Task Algorithm_WhoseTrainingImageIsAnImage_TrainsJobsByName()
    {
        using var dir = new TempDirectory("image-job");
        var image = await PushAlgorithmAsync(dir, "jobs/algorithm", train: "#!/bin/sh\ncat /opt/ml/input/data/train/part-0.csv > /opt/ml/model/seen\necho loss=0.5\n");
        await using var server = await TestServer.StartAsync();
        server.PutObject("data", "train/part-0.csv", "7,8,9\n");
        var algorithm = new JsonObject
        {
            ["AlgorithmName"] = "image-algo",
            ["TrainingSpecification"] = new JsonObject
            {
                ["TrainingImage"] = image,
                ["SupportedTrainingInstanceTypes"] = new JsonArray("ml.m5.large"),
                ["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "loss", ["Regex"] = "loss=([0-9.]+)" }),
                ["TrainingChannels"] = new JsonArray(new JsonObject { ["Name"] = "train", ["SupportedContentTypes"] = new JsonArray("text/csv"), ["SupportedInputModes"] = new JsonArray("File") }),
            },
        };
        Assert.Equal(200, (await server.CallAsync("CreateAlgorithm", algorithm.ToJsonString())).Status);
        var name = TestJobs.UniqueName("algo-image");
        var request = TestJobs.Request(name, "unused", channels: [TestJobs.Channel("train", "s3://data/train/")]);
        request["AlgorithmSpecification"] = new JsonObject { ["AlgorithmName"] = "image-algo", ["TrainingInputMode"] = "File" };
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
        Assert.Equal("7,8,9\n", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["seen"]);
        Assert.Equal(0.5, job["FinalMetricDataList"]![0]!["Value"]!.GetValue<double>());
        Assert.Contains($"Pulled {image}", server.LogOf(name), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ImageJob_BadImages_FailWithClientErrorNamingTheImage()
    {
        using var dir = new TempDirectory("image-job");
        var layout = new OciLayoutBuilder(dir["layout"]);
        var evil = layout.AddLayer(w => Text(w, "../../../../tmp/trainyard-job-escape", "evil"));
        layout.Tag(layout.AddImage([evil]), "evil");
        var escaping = await registries.Open.PushAsync(layout.Directory, "evil", "jobs/evil");
        await using var server = await TestServer.StartAsync();

        foreach (var (image, cause) in new[]
        {
            (registries.Open.Address + "/jobs/missing:1", "does not exist"),
            (escaping, $"layer {evil.Digest} is refused"),
            ("127.0.0.1:1/nothing/listens:1", "cannot reach the registry 127.0.0.1:1"),
            (registries.WithAuth.Address + "/jobs/private:1", "requires credentials"),
            ("123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1", "cannot reach the registry"),
        })
        {
            var name = TestJobs.UniqueName("bad");
            await server.CreateAsync(TestJobs.Request(name, image));
            var job = await server.WaitForEndAsync(name);
            Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
            var reason = job["FailureReason"]!.GetValue<string>();
            Assert.StartsWith("ClientError: ", reason, StringComparison.Ordinal);
            Assert.Contains(image.Contains('/', StringComparison.Ordinal) && !image.StartsWith("127.0.0.1:1/", StringComparison.Ordinal) ? image.Split('/')[^1] : image, reason, StringComparison.Ordinal);
            Assert.Contains(cause, reason, StringComparison.Ordinal);
        }

        Assert.False(File.Exists("/tmp/trainyard-job-escape"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(server.Home, "images", "tmp")));
    }

    [Fact]
    public async Task ImageJob_TwoHostsOfThePythonImage_TalkByName_AndARestartedServerReusesTheCache()
    {
        var python = TestImages.PythonLayout();
        using var dir = new TempDirectory("image-job");
        var image = await registries.Open.PushAsync(python, "3", "jobs/python", "3");
        // ContainerEntrypoint members are at most 256 characters: the script travels in the environment.
        var script = """
            import os, socket, time
            h = os.environ["SM_CURRENT_HOST"]
            if h == "algo-1":
                c, _ = socket.create_server(("algo-1", 7777)).accept()
                open("/opt/ml/model/received", "w").write(c.recv(100).decode())
            else:
                for _ in range(300):
                    try:
                        socket.create_connection(("algo-1", 7777)).sendall(b"hello from " + h.encode())
                        break
                    except OSError:
                        time.sleep(0.1)
            """;
        // The image cache outlives both servers (each test server's home goes with it).
        var cache = dir["cache"];
        await using (var server = await TestServer.StartAsync(o => o with { ImageCache = cache }))
        {
            var name = TestJobs.UniqueName("python");
            var request = TestJobs.Request(name, image, instances: 2);
            request["AlgorithmSpecification"]!["ContainerEntrypoint"] = new JsonArray("python3", "-c", "import os; exec(os.environ['SCRIPT'])");
            request["Environment"] = new JsonObject { ["SCRIPT"] = script };
            await server.CreateAsync(request);
            var job = await server.WaitForEndAsync(name);
            Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
            var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
            Assert.Equal("hello from algo-2", model["received"]);
        }

        await using (var restarted = await TestServer.StartAsync(o => o with { ImageCache = cache }))
        {
            var name = TestJobs.UniqueName("python");
            var request = TestJobs.Request(name, image);
            request["AlgorithmSpecification"]!["ContainerEntrypoint"] = new JsonArray("python3", "-c", "import sys; open('/opt/ml/model/v', 'w').write(sys.version)");
            await restarted.CreateAsync(request);
            var job = await restarted.WaitForEndAsync(name);
            Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString());
            var log = restarted.LogOf(name);
            Assert.Contains("Using the cached image", log, StringComparison.Ordinal);
        }
    }
}
