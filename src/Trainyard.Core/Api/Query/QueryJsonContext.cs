using System.Text.Json.Serialization;

namespace Trainyard.Api.Query;

/// <summary>An operation that takes no parameters.</summary>
public sealed record EmptyQueryInput;

[JsonSerializable(typeof(EmptyQueryInput))]
internal sealed partial class QueryJsonContext : JsonSerializerContext;
