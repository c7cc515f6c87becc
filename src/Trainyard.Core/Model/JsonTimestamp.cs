using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Trainyard.Model;

/// <summary>
/// AWS JSON 1.1 timestamps: epoch seconds as a JSON number (fractions allowed). The JS SDK v3 rejects
/// ISO strings, so they are always written as numbers; ISO strings are still accepted on input.
/// </summary>
public sealed class JsonTimestamp : JsonConverter<DateTimeOffset>
{
    public static bool TryRead(JsonElement value, out DateTimeOffset time)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Number when value.TryGetDouble(out var seconds) && double.IsFinite(seconds) && Math.Abs(seconds) < 253402300799:
                time = FromSeconds(seconds);
                return true;
            case JsonValueKind.String when DateTimeOffset.TryParse(value.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time):
                return true;
            default:
                time = default;
                return false;
        }
    }

    public static DateTimeOffset FromSeconds(double seconds) =>
        DateTimeOffset.UnixEpoch.AddTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond));

    public static double ToSeconds(DateTimeOffset time) =>
        Math.Round((time - DateTimeOffset.UnixEpoch).Ticks / (double)TimeSpan.TicksPerSecond, 3);

    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var doc = JsonDocument.ParseValue(ref reader);
        return TryRead(doc.RootElement, out var time) ? time : throw new JsonException("Expected a timestamp in epoch seconds.");
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(ToSeconds(value));
}
