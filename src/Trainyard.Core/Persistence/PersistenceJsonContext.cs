using System.Text.Json.Serialization;

namespace Trainyard.Persistence;

[JsonSerializable(typeof(PageToken))]
internal sealed partial class PersistenceJsonContext : JsonSerializerContext;
