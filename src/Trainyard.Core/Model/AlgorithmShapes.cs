using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trainyard.Model;

// The algorithm resource's shapes (CreateAlgorithm and friends), named as the service model names them.

public sealed record CreateAlgorithmInput
{
    public required string AlgorithmName { get; init; }
    public string? AlgorithmDescription { get; init; }
    public required TrainingSpecification TrainingSpecification { get; init; }
    public JsonElement? InferenceSpecification { get; init; }
    public AlgorithmValidationSpecification? ValidationSpecification { get; init; }
    public bool? CertifyForMarketplace { get; init; }
    public List<Tag>? Tags { get; init; }
}

public sealed record TrainingSpecification
{
    public required string TrainingImage { get; init; }
    public string? TrainingImageDigest { get; init; }
    public List<HyperParameterSpecification>? SupportedHyperParameters { get; init; }
    public required List<string> SupportedTrainingInstanceTypes { get; init; }
    public bool? SupportsDistributedTraining { get; init; }
    public List<MetricDefinition>? MetricDefinitions { get; init; }
    public required List<ChannelSpecification> TrainingChannels { get; init; }
    public JsonElement? SupportedTuningJobObjectiveMetrics { get; init; }
}

public sealed record HyperParameterSpecification
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required string Type { get; init; }
    public ParameterRange? Range { get; init; }
    public bool? IsTunable { get; init; }
    public bool? IsRequired { get; init; }
    public string? DefaultValue { get; init; }
}

public sealed record ParameterRange
{
    public MinMaxRange? IntegerParameterRangeSpecification { get; init; }
    public MinMaxRange? ContinuousParameterRangeSpecification { get; init; }
    public CategoricalRange? CategoricalParameterRangeSpecification { get; init; }
}

public sealed record MinMaxRange
{
    public required string MinValue { get; init; }
    public required string MaxValue { get; init; }
}

public sealed record CategoricalRange
{
    public required List<string> Values { get; init; }
}

public sealed record ChannelSpecification
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public bool? IsRequired { get; init; }
    public required List<string> SupportedContentTypes { get; init; }
    public List<string>? SupportedCompressionTypes { get; init; }
    public required List<string> SupportedInputModes { get; init; }
}

public sealed record AlgorithmValidationSpecification
{
    public required string ValidationRole { get; init; }
    public required List<AlgorithmValidationProfile> ValidationProfiles { get; init; }
}

public sealed record AlgorithmValidationProfile
{
    public required string ProfileName { get; init; }
    public required TrainingJobDefinition TrainingJobDefinition { get; init; }
    public JsonElement? TransformJobDefinition { get; init; }
}

public sealed record TrainingJobDefinition
{
    public required string TrainingInputMode { get; init; }
    public Dictionary<string, string>? HyperParameters { get; init; }
    public required List<Channel> InputDataConfig { get; init; }
    public required OutputDataConfig OutputDataConfig { get; init; }
    public required ResourceConfig ResourceConfig { get; init; }
    public required StoppingCondition StoppingCondition { get; init; }
}

public sealed record CreateAlgorithmOutput(string AlgorithmArn);

public sealed record DescribeAlgorithmInput(string AlgorithmName);

public sealed record DeleteAlgorithmInput(string AlgorithmName);

public sealed record AlgorithmStatusItem
{
    public required string Name { get; init; }
    public required string Status { get; init; }
    public string? FailureReason { get; init; }
}

public sealed record AlgorithmStatusDetails
{
    public List<AlgorithmStatusItem>? ValidationStatuses { get; init; }
    public List<AlgorithmStatusItem>? ImageScanStatuses { get; init; }
}

public sealed record DescribeAlgorithmOutput
{
    public required string AlgorithmName { get; init; }
    public required string AlgorithmArn { get; init; }
    public string? AlgorithmDescription { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset CreationTime { get; init; }
    public required TrainingSpecification TrainingSpecification { get; init; }
    public JsonElement? InferenceSpecification { get; init; }
    public AlgorithmValidationSpecification? ValidationSpecification { get; init; }
    public required string AlgorithmStatus { get; init; }
    public required AlgorithmStatusDetails AlgorithmStatusDetails { get; init; }
    public bool? CertifyForMarketplace { get; init; }
}

public sealed record ListAlgorithmsInput
{
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? CreationTimeAfter { get; init; }
    [JsonConverter(typeof(NullableJsonTimestamp))]
    public DateTimeOffset? CreationTimeBefore { get; init; }
    public int? MaxResults { get; init; }
    public string? NameContains { get; init; }
    public string? NextToken { get; init; }
    public string? SortBy { get; init; }
    public string? SortOrder { get; init; }
}

public sealed record AlgorithmSummary
{
    public required string AlgorithmName { get; init; }
    public required string AlgorithmArn { get; init; }
    public string? AlgorithmDescription { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset CreationTime { get; init; }
    public required string AlgorithmStatus { get; init; }
}

public sealed record ListAlgorithmsOutput(List<AlgorithmSummary> AlgorithmSummaryList, string? NextToken);

/// <summary>Trainyard's own operation (not SageMaker's): the whole metric series of a job.</summary>
public sealed record GetTrainingJobMetricsInput(string TrainingJobName);

public sealed record MetricPoint
{
    public required string MetricName { get; init; }
    public required string Host { get; init; }
    public double Value { get; init; }
    [JsonConverter(typeof(JsonTimestamp))]
    public DateTimeOffset Timestamp { get; init; }
}

public sealed record GetTrainingJobMetricsOutput(string TrainingJobName, List<MetricPoint> Metrics);
