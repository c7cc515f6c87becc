using System.Text.Json.Serialization;

namespace Trainyard.Algorithms;

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(AlgorithmRecord))]
internal sealed partial class AlgorithmsJsonContext : JsonSerializerContext;
