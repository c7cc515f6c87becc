using System.Text.Json.Serialization;

namespace Trainyard.Jobs;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobState))]
[JsonSerializable(typeof(PageToken))]
internal sealed partial class JobsJsonContext : JsonSerializerContext;
