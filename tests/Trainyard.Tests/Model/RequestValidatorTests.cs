using System.Text.Json;
using Trainyard.Model;

namespace Trainyard.Tests.Model;

public sealed class RequestValidatorTests
{
    private static ValidationResult Validate(string json, string shape = "CreateTrainingJobRequest")
    {
        using var doc = JsonDocument.Parse(json);
        return RequestValidator.Validate(doc.RootElement, shape);
    }

    [Fact]
    public void Validate_ArchitectureExample_MatchesAwsWording()
    {
        var result = Validate("""
            {"TrainingJobName": "bad_name!", "RoleArn": "arn:aws:iam::123456789012:role/r",
             "AlgorithmSpecification": {"TrainingImage": "/x", "TrainingInputMode": "File"},
             "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
             "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
             "StoppingCondition": {"MaxRuntimeInSeconds": 0}}
            """);
        Assert.Equal(
            "2 validation errors detected: Value 'bad_name!' at 'trainingJobName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; Value '0' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to 1",
            ValidationResult.Format(result.Errors));
    }

    [Fact]
    public void Validate_NewerSdkMembers_AreAccepted()
    {
        var result = Validate("""
            {"TrainingJobName": "n", "RoleArn": "arn:aws:iam::123456789012:role/r",
             "AlgorithmSpecification": {"TrainingImage": "/x", "TrainingInputMode": "File", "TrainingImageConfig": {"TrainingRepositoryAccessMode": "Platform"}},
             "OutputDataConfig": {"S3OutputPath": "s3://b/o", "CompressionType": "NONE"},
             "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
             "StoppingCondition": {"MaxRuntimeInSeconds": 10, "MaxPendingTimeInSeconds": 7200},
             "InfraCheckConfig": {"EnableInfraCheck": true}, "SessionChainingConfig": {"EnableSessionTagChaining": false},
             "RemoteDebugConfig": {"EnableRemoteDebug": false}, "RetryStrategy": {"MaximumRetryAttempts": 2}}
            """);
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Concat(result.TypeErrors)));
    }

    [Fact]
    public void Validate_MapsAndLists_ReportSizeAndEntryProblems()
    {
        var hps = string.Join(",", Enumerable.Range(0, 101).Select(i => $"\"k{i}\": \"v\""));
        var longKey = new string('k', 300);
        var result = Validate("{\"TrainingJobName\": \"n\", \"HyperParameters\": {" + hps + ", \"" + longKey + "\": \"x\"}}");
        Assert.Contains(result.Errors, e => e.StartsWith("Value '{", StringComparison.Ordinal) && e.Contains("at 'hyperParameters' failed to satisfy constraint: Member must have length less than or equal to 100", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e.Contains("Map keys must satisfy constraint: [Member must have length less than or equal to 256]", StringComparison.Ordinal));
        Assert.Contains(result.Errors, e => e == "Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
    }

    [Fact]
    public void Validate_WrongJsonTypes_AreTypeErrorsWithPaths()
    {
        var result = Validate("""{"TrainingJobName": 5, "ResourceConfig": {"VolumeSizeInGB": 1.5}, "EnableManagedSpotTraining": "yes", "Tags": {}}""");
        Assert.Contains(result.TypeErrors, e => e.Contains("'trainingJobName'", StringComparison.Ordinal));
        Assert.Contains(result.TypeErrors, e => e.Contains("'resourceConfig.volumeSizeInGB'", StringComparison.Ordinal));
        Assert.Contains(result.TypeErrors, e => e.Contains("'enableManagedSpotTraining'", StringComparison.Ordinal));
        Assert.Contains(result.TypeErrors, e => e.Contains("'tags'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("s3://bucket/prefix", true)]
    [InlineData("https://s3.amazonaws.com/bucket/key", true)]
    [InlineData("file:///data/train", true)]
    [InlineData("ftp://bucket/key", false)]
    [InlineData("s3:/bucket", false)]
    public void Validate_S3Uri_AcceptsS3HttpsAndLocalFiles(string uri, bool valid)
    {
        var result = Validate($$"""{"S3OutputPath": "{{uri}}"}""", "OutputDataConfig");
        Assert.Equal(valid, result.IsValid);
    }
}
