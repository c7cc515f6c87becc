using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trainyard.Cli;

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class TrainyardCliJsonContext : JsonSerializerContext;
