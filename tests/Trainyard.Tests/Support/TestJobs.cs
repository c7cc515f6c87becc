using System.Text.Json.Nodes;

namespace Trainyard.Tests.Support;

/// <summary>CreateTrainingJob requests and small algorithms for tests.</summary>
public static class TestJobs
{
    public static string UniqueName(string prefix = "job") => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    public static JsonObject Request(string name, string image, int instances = 1, JsonArray? channels = null, string output = "s3://out/models",
        int maxRuntime = 600, JsonObject? hyperParameters = null)
    {
        var request = new JsonObject
        {
            ["TrainingJobName"] = name,
            ["RoleArn"] = "arn:aws:iam::123456789012:role/SageMakerRole",
            ["AlgorithmSpecification"] = new JsonObject { ["TrainingImage"] = image, ["TrainingInputMode"] = "File" },
            ["OutputDataConfig"] = new JsonObject { ["S3OutputPath"] = output },
            ["ResourceConfig"] = new JsonObject { ["InstanceType"] = "ml.m5.large", ["InstanceCount"] = instances, ["VolumeSizeInGB"] = 1 },
            ["StoppingCondition"] = new JsonObject { ["MaxRuntimeInSeconds"] = maxRuntime },
        };
        if (channels is not null)
        {
            request["InputDataConfig"] = channels;
        }

        if (hyperParameters is not null)
        {
            request["HyperParameters"] = hyperParameters;
        }

        return request;
    }

    public static JsonObject Channel(string name, string uri, string distribution = "FullyReplicated", string type = "S3Prefix") => new()
    {
        ["ChannelName"] = name,
        ["DataSource"] = new JsonObject
        {
            ["S3DataSource"] = new JsonObject { ["S3DataType"] = type, ["S3Uri"] = uri, ["S3DataDistributionType"] = distribution },
        },
    };

    /// <summary>Writes an executable <c>train</c> script into a new image directory.</summary>
    public static string Algorithm(TempDirectory dir, string script, string name = "algo")
    {
        dir.Write($"{name}/train", script, executable: true);
        return dir[name];
    }
}
