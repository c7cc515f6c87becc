using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trainyard.Model;

/// <summary>Source-generated serialisation for the SageMaker shapes: member names as-is, nulls omitted.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNamingPolicy = JsonKnownNamingPolicy.Unspecified,
    NumberHandling = JsonNumberHandling.Strict,
    AllowTrailingCommas = false,
    ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(CreateTrainingJobRequest))]
[JsonSerializable(typeof(CreateTrainingJobResponse))]
[JsonSerializable(typeof(DescribeTrainingJobRequest))]
[JsonSerializable(typeof(DescribeTrainingJobResponse))]
[JsonSerializable(typeof(StopTrainingJobRequest))]
[JsonSerializable(typeof(ListTrainingJobsRequest))]
[JsonSerializable(typeof(ListTrainingJobsResponse))]
[JsonSerializable(typeof(AddTagsInput))]
[JsonSerializable(typeof(AddTagsOutput))]
[JsonSerializable(typeof(ListTagsInput))]
[JsonSerializable(typeof(ListTagsOutput))]
[JsonSerializable(typeof(DeleteTagsInput))]
[JsonSerializable(typeof(EmptyResponse))]
[JsonSerializable(typeof(CreateAlgorithmInput))]
[JsonSerializable(typeof(CreateAlgorithmOutput))]
[JsonSerializable(typeof(DescribeAlgorithmInput))]
[JsonSerializable(typeof(DescribeAlgorithmOutput))]
[JsonSerializable(typeof(DeleteAlgorithmInput))]
[JsonSerializable(typeof(ListAlgorithmsInput))]
[JsonSerializable(typeof(ListAlgorithmsOutput))]
[JsonSerializable(typeof(GetTrainingJobMetricsInput))]
[JsonSerializable(typeof(GetTrainingJobMetricsOutput))]
[JsonSerializable(typeof(MetricPoint))]
[JsonSerializable(typeof(List<AlgorithmStatusItem>))]
[JsonSerializable(typeof(List<SecondaryStatusTransition>))]
[JsonSerializable(typeof(List<MetricData>))]
[JsonSerializable(typeof(List<Tag>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(JsonElement))]
public sealed partial class TrainyardJsonContext : JsonSerializerContext;
