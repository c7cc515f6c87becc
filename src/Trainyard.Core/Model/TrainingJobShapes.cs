using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trainyard.Model;

// The SageMaker shapes Trainyard acts on, named exactly as the service model names their members.
// Members Trainyard accepts and echoes back but does not act on (debugger, profiler, VPC, experiments …)
// are kept as raw JSON so nothing a client sent is lost.

public sealed record CreateTrainingJobRequest
{
    public required string TrainingJobName { get; init; }
    public Dictionary<string, string>? HyperParameters { get; init; }
    public required AlgorithmSpecification AlgorithmSpecification { get; init; }
    public required string RoleArn { get; init; }
    public List<Channel>? InputDataConfig { get; init; }
    public required OutputDataConfig OutputDataConfig { get; init; }
    public required ResourceConfig ResourceConfig { get; init; }
    public JsonElement? VpcConfig { get; init; }
    public required StoppingCondition StoppingCondition { get; init; }
    public List<Tag>? Tags { get; init; }
    public bool? EnableNetworkIsolation { get; init; }
    public bool? EnableInterContainerTrafficEncryption { get; init; }
    public bool? EnableManagedSpotTraining { get; init; }
    public CheckpointConfig? CheckpointConfig { get; init; }
    public JsonElement? DebugHookConfig { get; init; }
    public JsonElement? DebugRuleConfigurations { get; init; }
    public JsonElement? TensorBoardOutputConfig { get; init; }
    public JsonElement? ExperimentConfig { get; init; }
    public JsonElement? ProfilerConfig { get; init; }
    public JsonElement? ProfilerRuleConfigurations { get; init; }
    public Dictionary<string, string>? Environment { get; init; }
    public JsonElement? RetryStrategy { get; init; }
    public JsonElement? InfraCheckConfig { get; init; }
    public JsonElement? SessionChainingConfig { get; init; }
    public JsonElement? RemoteDebugConfig { get; init; }
}

public sealed record AlgorithmSpecification
{
    public string? TrainingImage { get; init; }
    public string? AlgorithmName { get; init; }
    public required string TrainingInputMode { get; init; }
    public List<MetricDefinition>? MetricDefinitions { get; init; }
    public bool? EnableSageMakerMetricsTimeSeries { get; init; }
    public List<string>? ContainerEntrypoint { get; init; }
    public List<string>? ContainerArguments { get; init; }
    public JsonElement? TrainingImageConfig { get; init; }
}

public sealed record MetricDefinition
{
    public required string Name { get; init; }
    public required string Regex { get; init; }
}

public sealed record Channel
{
    public required string ChannelName { get; init; }
    public required DataSource DataSource { get; init; }
    public string? ContentType { get; init; }
    public string? CompressionType { get; init; }
    public string? RecordWrapperType { get; init; }
    public string? InputMode { get; init; }
    public ShuffleConfig? ShuffleConfig { get; init; }
}

public sealed record DataSource
{
    public S3DataSource? S3DataSource { get; init; }
    public JsonElement? FileSystemDataSource { get; init; }
}

public sealed record S3DataSource
{
    public required string S3DataType { get; init; }
    public required string S3Uri { get; init; }
    public string? S3DataDistributionType { get; init; }
    public List<string>? AttributeNames { get; init; }
    public List<string>? InstanceGroupNames { get; init; }
}

public sealed record ShuffleConfig
{
    public long Seed { get; init; }
}

public sealed record OutputDataConfig
{
    public string? KmsKeyId { get; init; }
    public required string S3OutputPath { get; init; }
    public string? CompressionType { get; init; }
}

public sealed record ResourceConfig
{
    public string? InstanceType { get; init; }
    public int? InstanceCount { get; init; }
    public int VolumeSizeInGB { get; init; }
    public string? VolumeKmsKeyId { get; init; }
    public JsonElement? InstanceGroups { get; init; }
    public int? KeepAlivePeriodInSeconds { get; init; }
}

public sealed record StoppingCondition
{
    public int? MaxRuntimeInSeconds { get; init; }
    public int? MaxWaitTimeInSeconds { get; init; }
    public int? MaxPendingTimeInSeconds { get; init; }
}

public sealed record CheckpointConfig
{
    public required string S3Uri { get; init; }
    public string? LocalPath { get; init; }
}

public sealed record Tag
{
    public required string Key { get; init; }
    public required string Value { get; init; }
}

public sealed record CreateTrainingJobResponse(string TrainingJobArn);

public sealed record DescribeTrainingJobRequest(string TrainingJobName);

public sealed record StopTrainingJobRequest(string TrainingJobName);

public sealed record ModelArtifacts(string S3ModelArtifacts);

public sealed record SecondaryStatusTransition
{
    public required string Status { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset StartTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? EndTime { get; init; }
    public string? StatusMessage { get; init; }
}

public sealed record MetricData
{
    public required string MetricName { get; init; }
    public double Value { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset Timestamp { get; init; }
}

public sealed record DescribeTrainingJobResponse
{
    public required string TrainingJobName { get; init; }
    public required string TrainingJobArn { get; init; }
    public required ModelArtifacts ModelArtifacts { get; init; }
    public required string TrainingJobStatus { get; init; }
    public required string SecondaryStatus { get; init; }
    public string? FailureReason { get; init; }
    public Dictionary<string, string>? HyperParameters { get; init; }
    public required AlgorithmSpecification AlgorithmSpecification { get; init; }
    public string? RoleArn { get; init; }
    public List<Channel>? InputDataConfig { get; init; }
    public OutputDataConfig? OutputDataConfig { get; init; }
    public required ResourceConfig ResourceConfig { get; init; }
    public JsonElement? VpcConfig { get; init; }
    public required StoppingCondition StoppingCondition { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset CreationTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingStartTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingEndTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? LastModifiedTime { get; init; }
    public List<SecondaryStatusTransition>? SecondaryStatusTransitions { get; init; }
    public List<MetricData>? FinalMetricDataList { get; init; }
    public bool? EnableNetworkIsolation { get; init; }
    public bool? EnableInterContainerTrafficEncryption { get; init; }
    public bool? EnableManagedSpotTraining { get; init; }
    public CheckpointConfig? CheckpointConfig { get; init; }
    public int? TrainingTimeInSeconds { get; init; }
    public int? BillableTimeInSeconds { get; init; }
    public JsonElement? DebugHookConfig { get; init; }
    public JsonElement? ExperimentConfig { get; init; }
    public JsonElement? DebugRuleConfigurations { get; init; }
    public JsonElement? TensorBoardOutputConfig { get; init; }
    public List<JsonElement>? DebugRuleEvaluationStatuses { get; init; }
    public JsonElement? ProfilerConfig { get; init; }
    public JsonElement? ProfilerRuleConfigurations { get; init; }
    public List<JsonElement>? ProfilerRuleEvaluationStatuses { get; init; }
    public string? ProfilingStatus { get; init; }
    public JsonElement? RetryStrategy { get; init; }
    public Dictionary<string, string>? Environment { get; init; }
    public JsonElement? InfraCheckConfig { get; init; }
    public JsonElement? RemoteDebugConfig { get; init; }
}

public sealed record ListTrainingJobsRequest
{
    public string? NextToken { get; init; }
    public int? MaxResults { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? CreationTimeAfter { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? CreationTimeBefore { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? LastModifiedTimeAfter { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? LastModifiedTimeBefore { get; init; }
    public string? NameContains { get; init; }
    public string? StatusEquals { get; init; }
    public string? SortBy { get; init; }
    public string? SortOrder { get; init; }
    public string? WarmPoolStatusEquals { get; init; }
}

public sealed record TrainingJobSummary
{
    public required string TrainingJobName { get; init; }
    public required string TrainingJobArn { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset CreationTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? TrainingEndTime { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? LastModifiedTime { get; init; }
    public required string TrainingJobStatus { get; init; }
}

public sealed record ListTrainingJobsResponse(List<TrainingJobSummary> TrainingJobSummaries, string? NextToken);

public sealed record AddTagsInput(string ResourceArn, List<Tag> Tags);

public sealed record AddTagsOutput(List<Tag> Tags);

public sealed record ListTagsInput(string ResourceArn, string? NextToken, int? MaxResults);

public sealed record ListTagsOutput(List<Tag> Tags, string? NextToken);

public sealed record DeleteTagsInput(string ResourceArn, List<string> TagKeys);

public sealed record EmptyResponse;
