using System.Text.Json.Serialization;

namespace Trainyard.Hosts;

/// <summary>Serialisation of host plans and events between the server and host processes.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true, WriteIndented = false)]
[JsonSerializable(typeof(List<HostPlan>))]
[JsonSerializable(typeof(HostEvent))]
[JsonSerializable(typeof(FollowerCursor))]
public sealed partial class HostsJsonContext : JsonSerializerContext;
