using System.Text.Json.Serialization;

namespace Trainyard.Api.CloudWatch;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(GetMetricStatisticsInput))]
[JsonSerializable(typeof(ListMetricsInput))]
internal sealed partial class CloudWatchJsonContext : JsonSerializerContext;
