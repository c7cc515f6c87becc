using System.Text.Json.Serialization;

namespace Trainyard.Api.CloudWatchLogs;

/// <summary>CloudWatch Logs' wire form: camelCase members, nulls omitted, strict numbers.</summary>
[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(DescribeLogGroupsRequest))]
[JsonSerializable(typeof(DescribeLogGroupsResponse))]
[JsonSerializable(typeof(DescribeLogStreamsRequest))]
[JsonSerializable(typeof(DescribeLogStreamsResponse))]
[JsonSerializable(typeof(GetLogEventsRequest))]
[JsonSerializable(typeof(FilterLogEventsRequest))]
internal sealed partial class LogsJsonContext : JsonSerializerContext;
