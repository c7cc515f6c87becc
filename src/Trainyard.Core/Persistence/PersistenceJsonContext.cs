using System.Text.Json.Serialization;

namespace Trainyard.Persistence;

[JsonSerializable(typeof(PageToken))]
[JsonSerializable(typeof(HomeHolder))]
internal sealed partial class PersistenceJsonContext : JsonSerializerContext;
