using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trainyard.Model;

/// <summary><see cref="JsonTimestamp"/> for optional members.</summary>
public sealed class NullableJsonTimestamp : JsonConverter<DateTimeOffset?>
{
    private static readonly JsonTimestamp Inner = new();

    public override bool HandleNull => false;

    public override DateTimeOffset? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null : Inner.Read(ref reader, typeof(DateTimeOffset), options);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            Inner.Write(writer, v, options);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
