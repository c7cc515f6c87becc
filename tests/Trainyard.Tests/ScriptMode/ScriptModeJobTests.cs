using System.Diagnostics;
using System.Text.Json.Nodes;
using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.SourceTarball;

namespace Trainyard.Tests.ScriptMode;

/// <summary>SageMaker framework images run as script mode, end to end through the HTTP API and the embedded store.</summary>
public sealed class ScriptModeJobTests
{
    private const string SkLearn = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3";
    private const string SourceUri = "s3://code/job/source/sourcedir.tar.gz";

    // What SKLearn(entry_point="train.py", source_dir="src", hyperparameters={"learning-rate": "0.1", "epochs": 3, "use-bias": True}) sends.
    private static JsonObject SdkHyperParameters(string name, string source = SourceUri) => new()
    {
        ["sagemaker_program"] = "\"train.py\"",
        ["sagemaker_submit_directory"] = $"\"{source}\"",
        ["sagemaker_region"] = "\"us-east-1\"",
        ["sagemaker_container_log_level"] = "20",
        ["sagemaker_job_name"] = $"\"{name}\"",
        ["learning-rate"] = "\"0.1\"",
        ["epochs"] = "3",
        ["use-bias"] = "true",
    };

    private const string TrainPy = """
        import json, os, sys
        import helper

        expected = ["--epochs", "3", "--learning-rate", "0.1", "--use-bias", "True"]
        assert sys.argv[1:] == expected, sys.argv
        hps = json.loads(os.environ["SM_HPS"])
        assert hps == {"epochs": 3, "learning-rate": "0.1", "use-bias": True}, hps
        assert json.loads(os.environ["SM_USER_ARGS"]) == expected, os.environ["SM_USER_ARGS"]
        assert not [k for k in os.environ if k.startswith("SM_HP_SAGEMAKER")], sorted(os.environ)
        assert os.environ["SM_HP_EPOCHS"] == "3" and os.environ["SM_HP_LEARNING-RATE"] == "0.1"
        assert os.environ["SM_MODULE_NAME"] == "train"
        assert os.environ["SM_USER_ENTRY_POINT"] == "train.py"
        assert os.environ["SM_MODULE_DIR"] == "s3://code/job/source/sourcedir.tar.gz", os.environ["SM_MODULE_DIR"]
        assert json.loads(os.environ["SM_FRAMEWORK_PARAMS"]) == {}
        assert os.environ["SM_LOG_LEVEL"] == "20"
        assert os.environ["PYTHONPATH"].split(":")[0] == "/opt/ml/code"
        env = json.loads(os.environ["SM_TRAINING_ENV"])
        assert env["hyperparameters"] == hps and env["user_args"] == expected and env["module_name"] == "train", env
        assert env["is_master"] == (os.environ["SM_CURRENT_HOST"] == "algo-1")
        assert os.getcwd() == "/opt/ml/code", os.getcwd()
        data = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "a.csv")).read()
        assert data == "1,2\n3,4\n", data
        host = os.environ["SM_CURRENT_HOST"]
        n = int(host.split("-")[1])
        for epoch in range(3):
            print(f"epoch={epoch} loss={helper.loss(epoch, n)}")
        with open(os.path.join(os.environ["SM_MODEL_DIR"], f"model-{host}.txt"), "w") as f:
            f.write(helper.describe(hps))
        """;

    private const string HelperPy = """
        def loss(epoch, n):
            return 10 * n + epoch + 0.5

        def describe(hps):
            return "lr=%s epochs=%d" % (hps["learning-rate"], hps["epochs"])
        """;

    private static void RequirePython()
    {
        Skip.IfNot(System.IO.File.Exists("/usr/bin/python3"), "/usr/bin/python3 is not installed (./test.sh installs it)");
    }

    private static bool PipAndVenv()
    {
        using var p = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import venv, pip"]) { RedirectStandardError = true })!;
        p.WaitForExit();
        return p.ExitCode == 0;
    }

    private static string Reason(JsonNode job) => job["FailureReason"]?.GetValue<string>() ?? "";

    [SkippableFact]
    public async Task Job_SklearnImageTwoHosts_RunsTheScriptAsTheToolkit()
    {
        RequirePython();
        await using var server = await TestServer.StartAsync();
        server.PutObject("data", "train/a.csv", "1,2\n3,4\n");
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(File("train.py", TrainPy), File("helper.py", HelperPy)));
        var name = TestJobs.UniqueName("script");
        var request = TestJobs.Request(name, SkLearn, instances: 2, channels: [TestJobs.Channel("train", "s3://data/train/")], hyperParameters: SdkHyperParameters(name));
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "train:loss", ["Regex"] = "loss=([0-9.]+)" });
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", Reason(job) + "\n" + server.LogOf(name));
        Assert.Equal(SkLearn, job["AlgorithmSpecification"]!["TrainingImage"]!.GetValue<string>());

        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal("lr=0.1 epochs=3", model["model-algo-1.txt"]);
        Assert.Equal("lr=0.1 epochs=3", model["model-algo-2.txt"]);

        var (_, series) = await server.CallAsync("", new JsonObject { ["TrainingJobName"] = name }.ToJsonString(), "Trainyard.GetTrainingJobMetrics");
        var points = series!["Metrics"]!.AsArray().Select(p => (Host: p!["Host"]!.GetValue<string>(), Value: p["Value"]!.GetValue<double>())).ToList();
        Assert.Equal([10.5, 11.5, 12.5], points.Where(p => p.Host.EndsWith("algo-1", StringComparison.Ordinal)).Select(p => p.Value));
        Assert.Equal([20.5, 21.5, 22.5], points.Where(p => p.Host.EndsWith("algo-2", StringComparison.Ordinal)).Select(p => p.Value));
        Assert.Contains("Script mode: /usr/bin/python3 train.py --epochs 3", server.LogOf(name), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Job_RequirementsFromLocalWheels_InstallsIntoTheJobsVirtualenv()
    {
        RequirePython();
        Skip.IfNot(PipAndVenv(), "python3-pip or python3-venv is not installed (./test.sh installs them)");
        await using var server = await TestServer.StartAsync();
        using var wheels = new TempDirectory("wheels");
        Wheel(wheels.Path, "tinyhelper", "1.0", "VALUE = 42\n");
        const string train = """
            import os, sys, tinyhelper
            assert tinyhelper.VALUE == 42
            assert tinyhelper.__file__.startswith(sys.prefix), (tinyhelper.__file__, sys.prefix)
            assert sys.prefix.endswith(os.environ["SM_CURRENT_HOST"] + ".venv"), sys.prefix
            import json  # the interpreter's own packages stay visible (--system-site-packages)
            print("tinyhelper", tinyhelper.VALUE, "from", sys.prefix)
            open(os.path.join(os.environ["SM_MODEL_DIR"], "ok"), "w").write("ok")
            """;
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(File("train.py", train), File("requirements.txt", "tinyhelper==1.0\n")));
        var name = TestJobs.UniqueName("reqs");
        var request = TestJobs.Request(name, SkLearn, hyperParameters: SdkHyperParameters(name));
        request["Environment"] = new JsonObject { ["PIP_FIND_LINKS"] = wheels.Path, ["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple" };
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(120));
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", Reason(job) + "\n" + server.LogOf(name));
        Assert.Contains("Successfully installed tinyhelper-1.0", server.LogOf(name), StringComparison.Ordinal);
        Assert.Contains("tinyhelper 42 from", server.LogOf(name), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Job_RequirementNobodyHas_FailsSayingPipCouldNotInstallIt()
    {
        RequirePython();
        Skip.IfNot(PipAndVenv(), "python3-pip or python3-venv is not installed (./test.sh installs them)");
        await using var server = await TestServer.StartAsync();
        using var wheels = new TempDirectory("nowheels");
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(File("train.py", "print('never')\n"), File("requirements.txt", "nosuchpkg-trainyard==9.9\n")));
        var name = TestJobs.UniqueName("noreq");
        var request = TestJobs.Request(name, SkLearn, hyperParameters: SdkHyperParameters(name));
        request["Environment"] = new JsonObject { ["PIP_FIND_LINKS"] = wheels.Path, ["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple" };
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(120));
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        var reason = Reason(job);
        Assert.Contains("pip could not install /opt/ml/code/requirements.txt", reason, StringComparison.Ordinal);
        Assert.Contains("nosuchpkg-trainyard", reason, StringComparison.Ordinal);
        Assert.Contains("No package index could be reached (PIP_INDEX_URL=http://127.0.0.1:9/simple)", reason, StringComparison.Ordinal);
        Assert.True(reason.Length < 1024, reason);
        Assert.DoesNotContain("never", server.LogOf(name), StringComparison.Ordinal);
    }

    public static TheoryData<string, Entry[], string> BadArchives => new()
    {
        { "dot-dot", [File("train.py", "print(1)\n"), File("../evil", "x")], "'../evil'" },
        { "absolute", [File("train.py", "print(1)\n"), File("/tmp/trainyard-script-evil", "x")], "'/tmp/trainyard-script-evil'" },
        { "symlink to /etc", [File("train.py", "print(1)\n"), Symlink("config", "/etc")], "'config'" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadArchives))]
    public async Task Job_HostileSourceArchive_FailsNamingTheEntry(string what, Entry[] entries, string named)
    {
        RequirePython();
        await using var server = await TestServer.StartAsync();
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(entries));
        var name = TestJobs.UniqueName("evil");
        await server.CreateAsync(TestJobs.Request(name, SkLearn, hyperParameters: SdkHyperParameters(name)));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        var reason = Reason(job);
        Assert.StartsWith("ClientError: ", reason, StringComparison.Ordinal);
        Assert.Contains(SourceUri, reason, StringComparison.Ordinal);
        Assert.True(reason.Contains(named, StringComparison.Ordinal), $"{what}: {reason}");
        var host = Path.Combine(server.Options.JobDirectory(name), "hosts", "algo-1");
        Assert.False(System.IO.File.Exists(Path.Combine(host, "evil")), what);
        Assert.False(System.IO.File.Exists("/tmp/trainyard-script-evil"), what);
        Assert.False(Directory.Exists(Path.Combine(host, "code", "config")) && new DirectoryInfo(Path.Combine(host, "code", "config")).LinkTarget is not null, what);
    }

    [SkippableFact]
    public async Task Job_ImageMapNamesAVirtualenv_TheScriptRunsOnIt()
    {
        RequirePython();
        Skip.IfNot(PipAndVenv(), "python3-venv is not installed (./test.sh installs it)");
        using var dir = new TempDirectory("venv");
        using (var make = Process.Start("/usr/bin/python3", ["-m", "venv", "--without-pip", dir["venv"]]))
        {
            await make.WaitForExitAsync();
            Assert.Equal(0, make.ExitCode);
        }

        await using var server = await TestServer.StartAsync(o => o with
        {
            Images = new Dictionary<string, string> { ["683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn"] = "python:" + dir["venv"] },
        });
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(File("train.py", "import sys\nprint('prefix=' + sys.prefix)\n")));
        var name = TestJobs.UniqueName("venv");
        await server.CreateAsync(TestJobs.Request(name, SkLearn, hyperParameters: SdkHyperParameters(name)));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", Reason(job) + "\n" + server.LogOf(name));
        Assert.Contains("prefix=" + dir["venv"], server.LogOf(name), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Job_WithoutSandbox_RunsInTheHostDirectory()
    {
        RequirePython();
        await using var server = await TestServer.StartAsync(o => o with { Sandbox = false });
        const string train = """
            import os, sys, helper
            code = os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "code")
            assert os.getcwd() == code and os.environ["PYTHONPATH"].split(":")[0] == code, (os.getcwd(), os.environ["PYTHONPATH"])
            assert sys.argv[1:] == ["--epochs", "3", "--learning-rate", "0.1", "--use-bias", "True"], sys.argv
            open(os.path.join(os.environ["SM_MODEL_DIR"], "ok"), "w").write(str(helper.loss(0, 1)))
            """;
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(File("train.py", train), File("helper.py", HelperPy)));
        var name = TestJobs.UniqueName("plain");
        await server.CreateAsync(TestJobs.Request(name, SkLearn, hyperParameters: SdkHyperParameters(name)));
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", Reason(job) + "\n" + server.LogOf(name));
        Assert.Equal("10.5", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["ok"]);
    }

    [SkippableFact]
    public async Task Job_NoSubmitDirectoryAndNoCode_FailsClearly()
    {
        RequirePython();
        await using var server = await TestServer.StartAsync();
        var name = TestJobs.UniqueName("nocode");
        var hps = SdkHyperParameters(name);
        hps.Remove("sagemaker_submit_directory");
        await server.CreateAsync(TestJobs.Request(name, SkLearn, hyperParameters: hps));
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Contains("sagemaker_program 'train.py' is not in /opt/ml/code", Reason(job), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Job_AlgorithmWithAFrameworkImage_TrainsInScriptModeByName()
    {
        RequirePython();
        await using var server = await TestServer.StartAsync();
        server.PutObject("data", "train/a.csv", "1,2\n3,4\n");
        server.PutObject("code", "job/source/sourcedir.tar.gz", Build(File("train.py", TrainPy), File("helper.py", HelperPy)));
        var algorithm = new JsonObject
        {
            ["AlgorithmName"] = "sklearn-script",
            ["TrainingSpecification"] = new JsonObject
            {
                ["TrainingImage"] = SkLearn,
                ["SupportedHyperParameters"] = new JsonArray(
                    new JsonObject { ["Name"] = "epochs", ["Type"] = "Integer", ["DefaultValue"] = "3" },
                    new JsonObject { ["Name"] = "learning-rate", ["Type"] = "FreeText", ["DefaultValue"] = "\"0.1\"" },
                    new JsonObject { ["Name"] = "use-bias", ["Type"] = "FreeText", ["DefaultValue"] = "true" }),
                ["SupportedTrainingInstanceTypes"] = new JsonArray("ml.m5.large"),
                ["TrainingChannels"] = new JsonArray(new JsonObject { ["Name"] = "train", ["SupportedContentTypes"] = new JsonArray("text/csv"), ["SupportedInputModes"] = new JsonArray("File") }),
            },
        };
        var (status, created) = await server.CallAsync("CreateAlgorithm", algorithm);
        Assert.True(status == 200, created?.ToJsonString());

        var name = TestJobs.UniqueName("algo-script");
        var hps = SdkHyperParameters(name);
        foreach (var user in new[] { "epochs", "learning-rate", "use-bias" })
        {
            hps.Remove(user);
        }

        var request = TestJobs.Request(name, "unused", channels: [TestJobs.Channel("train", "s3://data/train/")], hyperParameters: hps);
        request["AlgorithmSpecification"] = new JsonObject { ["AlgorithmName"] = "sklearn-script", ["TrainingInputMode"] = "File" };
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", Reason(job) + "\n" + server.LogOf(name));
        Assert.Equal("lr=0.1 epochs=3", TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["model-algo-1.txt"]);
    }

    [Theory]
    [InlineData(SkLearn, null, "sagemaker_program")]
    [InlineData("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1", null, "built-in XGBoost algorithm")]
    [InlineData(SkLearn, "sagemaker_mpi_enabled", "sagemaker_mpi_enabled is true")]
    [InlineData("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.0.0-cpu-py310", "sagemaker_torch_distributed_enabled", "torchrun")]
    public async Task Create_UnsupportedScriptModeJob_IsAValidationException(string image, string? launcher, string says)
    {
        await using var server = await TestServer.StartAsync();
        var name = TestJobs.UniqueName("refused");
        JsonObject hps = launcher is null ? new JsonObject { ["epochs"] = "3" } : SdkHyperParameters(name);
        if (launcher is not null)
        {
            hps[launcher] = "true";
        }

        var (status, body) = await server.CallAsync("CreateTrainingJob", TestJobs.Request(name, image, hyperParameters: hps));
        Assert.Equal(400, status);
        Assert.Contains("ValidationException", body!["__type"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(says, body["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get(name));
    }
}
