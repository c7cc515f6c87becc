using System.Text.Json.Serialization;

namespace Trainyard.Jobs;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(JobRecord))]
internal sealed partial class JobsJsonContext : JsonSerializerContext;
