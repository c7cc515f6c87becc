using System.Text.Json.Nodes;
using Trainyard.Hosts;
using Trainyard.ScriptMode;

namespace Trainyard.Tests.ScriptMode;

/// <summary>The toolkit's environment, built from a host plan without running anything.</summary>
public sealed class ScriptModeEnvironmentTests
{
    private static HostPlan Plan(string host = "algo-2") => new()
    {
        JobName = "job-1",
        JobArn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/job-1",
        Region = "eu-west-1",
        HostName = host,
        Hosts = ["algo-1", "algo-2"],
        HostAddresses = new Dictionary<string, string> { ["algo-1"] = "127.0.0.11", ["algo-2"] = "127.0.0.12" },
        HostDirectory = "/srv/jobs/job-1/hosts/" + host,
        ImagePath = "script-mode:/usr/bin/python3",
        HyperParameters = new Dictionary<string, string>
        {
            ["sagemaker_program"] = "\"train.py\"",
            ["sagemaker_submit_directory"] = "\"s3://b/src.tar.gz\"",
            ["sagemaker_container_log_level"] = "10",
            ["sagemaker_job_name"] = "\"job-1\"",
            ["sagemaker_distributed_dataparallel_enabled"] = "false",
            ["lr"] = "0.5",
            ["name"] = "\"trial\"",
        },
        Environment = new Dictionary<string, string> { ["PYTHONPATH"] = "/extra", ["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9000" },
        InstanceTypeName = "ml.m5.large",
        Channels = [new ChannelPlan { Name = "train", InputMode = "File", S3DataType = "S3Prefix", S3DistributionType = "FullyReplicated", Objects = [] }],
        VolumeSizeBytes = 1 << 30,
        TrainingJobConfigJson = "{}",
        LogPath = "/dev/null",
        StopGracePeriod = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public void Build_SagemakerKeysOutOfTheUsersAndTheToolkitsOwnIn()
    {
        var plan = Plan();
        var env = ScriptModeEnvironment.Build(new ContainerContract(plan, sandboxed: true), plan, ScriptModeHyperParameters.Parse(plan.HyperParameters), "train.py");
        Assert.Equal("""{"lr":0.5,"name":"trial"}""", env["SM_HPS"]);
        Assert.Equal("""["--lr","0.5","--name","trial"]""", env["SM_USER_ARGS"]);
        Assert.Equal(["SM_HP_LR", "SM_HP_NAME"], env.Keys.Where(k => k.StartsWith("SM_HP_", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal("0.5", env["SM_HP_LR"]);
        Assert.Equal("trial", env["SM_HP_NAME"]);
        Assert.Equal("""{"sagemaker_distributed_dataparallel_enabled":false}""", env["SM_FRAMEWORK_PARAMS"]);
        Assert.Equal("s3://b/src.tar.gz", env["SM_MODULE_DIR"]);
        Assert.Equal("train", env["SM_MODULE_NAME"]);
        Assert.Equal("train.py", env["SM_USER_ENTRY_POINT"]);
        Assert.Equal("10", env["SM_LOG_LEVEL"]);
        Assert.Equal("", env["SM_FRAMEWORK_MODULE"]);
        Assert.Equal("/opt/ml/code:/extra", env["PYTHONPATH"]);
        Assert.Equal("job-1", env["SAGEMAKER_JOB_NAME"]);
        Assert.Equal("eu-west-1", env["SAGEMAKER_REGION"]);
        Assert.Equal("algo-2", env["CURRENT_HOST"]);
        Assert.Equal("http://127.0.0.1:9000", env["S3_ENDPOINT_URL"]);
        Assert.Equal("/opt/ml/input/data/train", env["SM_CHANNEL_TRAIN"]);

        var training = JsonNode.Parse(env["SM_TRAINING_ENV"])!;
        Assert.Equal("""{"lr":0.5,"name":"trial"}""", training["hyperparameters"]!.ToJsonString());
        Assert.Equal("""["--lr","0.5","--name","trial"]""", training["user_args"]!.ToJsonString());
        Assert.False(training["is_master"]!.GetValue<bool>());
        Assert.Equal("algo-1", training["master_hostname"]!.GetValue<string>());
        Assert.Equal("train", training["module_name"]!.GetValue<string>());
        Assert.Equal(10, training["log_level"]!.GetValue<int>());
        // json.dumps(sort_keys=True): keys in order.
        var keys = training.AsObject().Select(p => p.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public void Build_NoSubmitDirectory_ModuleDirIsTheCodeDirectory()
    {
        var plan = Plan("algo-1") with { HyperParameters = new Dictionary<string, string> { ["sagemaker_program"] = "\"run.sh\"" } };
        var env = ScriptModeEnvironment.Build(new ContainerContract(plan, sandboxed: false), plan, ScriptModeHyperParameters.Parse(plan.HyperParameters), "run.sh");
        Assert.Equal("/srv/jobs/job-1/hosts/algo-1/code", env["SM_MODULE_DIR"]);
        Assert.Equal("run.sh", env["SM_MODULE_NAME"]);
        Assert.Equal("{}", env["SM_HPS"]);
        Assert.Equal("20", env["SM_LOG_LEVEL"]);
        Assert.True(JsonNode.Parse(env["SM_TRAINING_ENV"])!["is_master"]!.GetValue<bool>());
    }
}
