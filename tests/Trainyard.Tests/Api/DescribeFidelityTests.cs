using System.Text.Json;
using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>DescribeTrainingJob answers with every member SageMaker always returns, in botocore's shapes.</summary>
public sealed class DescribeFidelityTests
{
    // The members the SageMaker Python SDK v2 sends by default (debugger hook, profiler and its report rule).
    private static JsonObject WithSdkDefaults(JsonObject request)
    {
        request["DebugHookConfig"] = new JsonObject { ["S3OutputPath"] = "s3://out/", ["CollectionConfigurations"] = new JsonArray() };
        request["ProfilerConfig"] = new JsonObject { ["S3OutputPath"] = "s3://out/", ["DisableProfiler"] = false };
        request["ProfilerRuleConfigurations"] = new JsonArray(new JsonObject
        {
            ["RuleConfigurationName"] = "ProfilerReport-1671234567",
            ["RuleEvaluatorImage"] = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest",
            ["RuleParameters"] = new JsonObject { ["rule_to_invoke"] = "ProfilerReport" },
        });
        return request;
    }

    [Fact]
    public async Task DescribeTrainingJob_SdkDefaults_ReturnsWhatSageMakerAlwaysReturns()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        server.PutObject("data", "train/a.csv", "1\n");
        var name = TestJobs.UniqueName("fidelity");
        await server.CreateAsync(WithSdkDefaults(TestJobs.Request(name, image, channels: [TestJobs.Channel("train", "s3://data/train/")])));
        var job = await server.WaitForEndAsync(name);

        Assert.Equal("", job["OutputDataConfig"]!["KmsKeyId"]!.GetValue<string>());
        Assert.Equal("GZIP", job["OutputDataConfig"]!["CompressionType"]!.GetValue<string>());
        Assert.False(job["AlgorithmSpecification"]!["EnableSageMakerMetricsTimeSeries"]!.GetValue<bool>());
        var channel = job["InputDataConfig"]![0]!;
        Assert.Equal("None", channel["CompressionType"]!.GetValue<string>());
        Assert.Equal("None", channel["RecordWrapperType"]!.GetValue<string>());
        Assert.Equal("FullyReplicated", channel["DataSource"]!["S3DataSource"]!["S3DataDistributionType"]!.GetValue<string>());
        Assert.Equal("Enabled", job["ProfilingStatus"]!.GetValue<string>());
        Assert.Empty(job["ProfilerRuleEvaluationStatuses"]!.AsArray());
        Assert.Equal("ProfilerReport-1671234567", job["ProfilerRuleConfigurations"]![0]!["RuleConfigurationName"]!.GetValue<string>());
        Assert.Equal("s3://out/", job["DebugHookConfig"]!["S3OutputPath"]!.GetValue<string>());
        Assert.Null(job["DebugRuleEvaluationStatuses"]);
    }

    [Fact]
    public async Task DescribeTrainingJob_DisabledProfilerAndDebugRules_ReportsThemAsSageMakerDoes()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        var name = TestJobs.UniqueName("noprofile");
        var request = TestJobs.Request(name, image);
        request["OutputDataConfig"]!["KmsKeyId"] = "alias/mine";
        request["ProfilerConfig"] = new JsonObject { ["DisableProfiler"] = true };
        request["DebugRuleConfigurations"] = new JsonArray(new JsonObject
        {
            ["RuleConfigurationName"] = "LossNotDecreasing",
            ["RuleEvaluatorImage"] = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest",
        });
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name);
        Assert.Equal("alias/mine", job["OutputDataConfig"]!["KmsKeyId"]!.GetValue<string>());
        Assert.Equal("Disabled", job["ProfilingStatus"]!.GetValue<string>());
        Assert.Empty(job["DebugRuleEvaluationStatuses"]!.AsArray());
        Assert.Null(job["ProfilerRuleEvaluationStatuses"]);

        // Without a ProfilerConfig there is no profiling status at all.
        var plain = TestJobs.UniqueName("plain");
        await server.CreateAsync(TestJobs.Request(plain, image));
        Assert.Null((await server.WaitForEndAsync(plain))["ProfilingStatus"]);
    }

    /// <summary>
    /// Every member of the raw answer is one botocore 1.29 knows (its parser silently drops others), or one
    /// of the newer members in Trainyard's documented additions; and the keys the SDK's
    /// <c>Estimator.attach</c> reads unconditionally are there.
    /// </summary>
    [Fact]
    public async Task DescribeTrainingJob_RawAnswer_FitsBotocoresOutputShapeAndEstimatorAttach()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\necho 'loss=0.5'\nexit 0\n");
        server.PutObject("data", "train/a.csv", "1\n");
        var name = TestJobs.UniqueName("shape");
        var request = WithSdkDefaults(TestJobs.Request(name, image, channels: [TestJobs.Channel("train", "s3://data/train/")],
            hyperParameters: new JsonObject { ["sagemaker_program"] = "\"train.py\"" }));
        request["AlgorithmSpecification"]!["MetricDefinitions"] = new JsonArray(new JsonObject { ["Name"] = "loss", ["Regex"] = "loss=([0-9.]+)" });
        request["CheckpointConfig"] = new JsonObject { ["S3Uri"] = "s3://out/checkpoints" };
        request["Environment"] = new JsonObject { ["A"] = "1" };
        await server.CreateAsync(request);
        var raw = await server.WaitForEndAsync(name);

        const string script = """
            import json, sys, botocore.session
            model = botocore.session.get_session().get_service_model("sagemaker")
            def tree(shape, depth=0):
                if depth > 12: return "any"
                if shape.type_name == "structure": return {k: tree(v, depth + 1) for k, v in shape.members.items()}
                if shape.type_name == "list": return [tree(shape.member, depth + 1)]
                if shape.type_name == "map": return {"*": tree(shape.value, depth + 1)}
                return shape.type_name
            print(json.dumps(tree(model.operation_model("DescribeTrainingJob").output_shape)))
            """;
        var botocore = await Boto3.JsonAsync(server.Address, script);
        var additions = JsonNode.Parse(File.ReadAllText(Path.Combine(TrainyardCli.RepositoryRoot, "src", "Trainyard.Core", "Model", "Resources", "service-model-additions.json")))!;
        var newer = additions["members"]!.AsObject()
            .SelectMany(s => s.Value!.AsObject().Select(m => m.Key))
            .ToHashSet(StringComparer.Ordinal);

        var unknown = new List<string>();
        Compare(raw, botocore, "", newer, unknown);
        Assert.True(unknown.Count == 0, "members botocore 1.29 does not know and that are not documented additions: " + string.Join(", ", unknown));

        // What sagemaker.estimator.EstimatorBase._prepare_init_params_from_job_description reads with [].
        const string attach = """
            import boto3, json, os, sys
            sm = boto3.client("sagemaker", endpoint_url=os.environ["ENDPOINT"])
            job = sm.describe_training_job(TrainingJobName=sys.argv[1])
            init = dict(role=job["RoleArn"], instance_count=job["ResourceConfig"]["InstanceCount"],
                instance_type=job["ResourceConfig"]["InstanceType"], volume_size=job["ResourceConfig"]["VolumeSizeInGB"],
                max_run=job["StoppingCondition"]["MaxRuntimeInSeconds"], input_mode=job["AlgorithmSpecification"]["TrainingInputMode"],
                output_path=job["OutputDataConfig"]["S3OutputPath"], output_kms_key=job["OutputDataConfig"]["KmsKeyId"],
                model_data=job["ModelArtifacts"]["S3ModelArtifacts"], image_uri=job["AlgorithmSpecification"]["TrainingImage"],
                hyperparameters={k: json.loads(v) for k, v in job["HyperParameters"].items()},
                start=job["TrainingStartTime"].timestamp(), end=job["TrainingEndTime"].timestamp(),
                metrics=job["AlgorithmSpecification"]["MetricDefinitions"])
            print(json.dumps(init))
            """;
        var init = await Boto3.JsonAsync(server.Address, attach, name);
        Assert.Equal("", init["output_kms_key"]!.GetValue<string>());
        Assert.Equal(600, init["max_run"]!.GetValue<int>());
        Assert.Equal("train.py", init["hyperparameters"]!["sagemaker_program"]!.GetValue<string>());
        Assert.Equal("loss", init["metrics"]![0]!["Name"]!.GetValue<string>());
    }

    private static void Compare(JsonNode? value, JsonNode? shape, string path, HashSet<string> newer, List<string> unknown)
    {
        switch (value)
        {
            case JsonObject obj when shape is JsonObject members:
                foreach (var (key, child) in obj)
                {
                    var childShape = members.ContainsKey("*") && members.Count == 1 ? members["*"] : members[key];
                    if (childShape is null && !members.ContainsKey(key))
                    {
                        if (!newer.Contains(key))
                        {
                            unknown.Add(path + key);
                        }

                        continue;
                    }

                    Compare(child, childShape, path + key + ".", newer, unknown);
                }

                break;
            case JsonArray array when shape is JsonArray item:
                foreach (var element in array)
                {
                    Compare(element, item[0], path + "[].", newer, unknown);
                }

                break;
            case JsonValue leaf when shape is JsonValue type:
                var kind = leaf.GetValueKind();
                var expected = type.GetValue<string>() switch
                {
                    "string" => kind == JsonValueKind.String,
                    "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
                    "integer" or "long" => kind == JsonValueKind.Number && !leaf.ToJsonString().Contains('.', StringComparison.Ordinal),
                    "double" or "float" or "timestamp" => kind == JsonValueKind.Number,
                    _ => true,
                };
                if (!expected)
                {
                    unknown.Add($"{path.TrimEnd('.')} (a {kind} where botocore expects {type.GetValue<string>()})");
                }

                break;
            default:
                if (shape is JsonValue { } any && any.GetValue<string>() == "any")
                {
                    break;
                }

                unknown.Add($"{path.TrimEnd('.')} (shape mismatch)");
                break;
        }
    }
}
