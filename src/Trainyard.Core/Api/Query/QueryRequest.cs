using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trainyard.Model;

namespace Trainyard.Api.Query;

/// <summary>
/// A query-protocol request (form-encoded <c>Action=…&amp;Version=…&amp;Member.Sub=…</c>, as botocore sends it to
/// CloudWatch and STS) read into JSON by the operation's input shape in the service model: structures by
/// dotted names, lists as <c>Name.member.N</c>, maps as <c>Name.entry.N.key/value</c>, timestamps in ISO 8601.
/// The JSON then goes through the same validator as the JSON protocols, so constraint errors are AWS's.
/// </summary>
public sealed class QueryRequest
{
    private QueryRequest(string action, IReadOnlyDictionary<string, string> parameters)
    {
        Action = action;
        Parameters = parameters;
    }

    public string Action { get; }

    /// <summary>Every parameter but Action and Version.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; }

    public static QueryRequest Parse(IEnumerable<KeyValuePair<string, string>> form)
    {
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        var action = "";
        foreach (var (key, value) in form)
        {
            switch (key)
            {
                case "Action":
                    action = value;
                    break;
                case "Version":
                    break;
                default:
                    parameters[key] = value;
                    break;
            }
        }

        return new QueryRequest(action, parameters);
    }

    /// <summary>The parameters as JSON of shape <paramref name="shapeName"/>; values of the wrong type throw <c>InvalidParameterValue</c>.</summary>
    public JsonObject ToJson(ServiceModel model, string shapeName) =>
        (JsonObject)(Build(model, model[shapeName], "") ?? new JsonObject());

    private JsonNode? Build(ServiceModel model, ServiceModel.Shape shape, string prefix)
    {
        switch (shape.Type)
        {
            case "structure":
            {
                JsonObject? obj = null;
                foreach (var (member, memberShape) in shape.Members)
                {
                    var key = prefix.Length == 0 ? member : prefix + "." + member;
                    if (Build(model, model[memberShape], key) is { } value)
                    {
                        (obj ??= [])[member] = value;
                    }
                }

                return prefix.Length == 0 ? obj ?? [] : obj;
            }

            case "list":
            {
                var items = new JsonArray();
                var itemShape = model[shape.ListMember!];
                for (var i = 1; ; i++)
                {
                    var key = $"{prefix}.member.{i.ToString(CultureInfo.InvariantCulture)}";
                    var item = Build(model, itemShape, key);
                    if (item is null)
                    {
                        break;
                    }

                    items.Add(item);
                }

                // "Name=" alone is botocore's way of sending an empty list.
                return items.Count > 0 ? items : Parameters.TryGetValue(prefix, out var empty) && empty.Length == 0 ? items : null;
            }

            case "map":
            {
                JsonObject? map = null;
                for (var i = 1; ; i++)
                {
                    var entry = $"{prefix}.entry.{i.ToString(CultureInfo.InvariantCulture)}";
                    if (!Parameters.TryGetValue(entry + ".key", out var key))
                    {
                        break;
                    }

                    (map ??= [])[key] = Build(model, model[shape.MapValue!], entry + ".value");
                }

                return map;
            }

            default:
                return Parameters.TryGetValue(prefix, out var text) ? Scalar(shape, prefix, text) : null;
        }
    }

    private static JsonNode Scalar(ServiceModel.Shape shape, string name, string text)
    {
        switch (shape.Type)
        {
            case "integer":
            case "long":
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? JsonValue.Create(n) : throw Invalid(name, text);
            case "double":
            case "float":
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) ? JsonValue.Create(d) : throw Invalid(name, text);
            case "boolean":
                return text switch { "true" => JsonValue.Create(true), "false" => JsonValue.Create(false), _ => throw Invalid(name, text) };
            case "timestamp":
                return TryTimestamp(text, out var time) ? JsonValue.Create(JsonTimestamp.ToSeconds(time)) : throw Invalid(name, text);
            default:
                return JsonValue.Create(text);
        }
    }

    /// <summary>ISO 8601 (what botocore sends) or epoch seconds.</summary>
    public static bool TryTimestamp(string text, out DateTimeOffset time)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds) && Math.Abs(seconds) < 253402300799)
        {
            time = JsonTimestamp.FromSeconds(seconds);
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
    }

    private static ApiException Invalid(string name, string text) =>
        new("InvalidParameterValue", 400, $"Invalid value '{(text.Length > 100 ? text[..100] + "…" : text)}' for parameter {name}.");

    /// <summary>Validates <paramref name="json"/> and reads it as <typeparamref name="T"/>, answering in the query protocol's error codes.</summary>
    public static T Read<T>(JsonObject json, ServiceModel model, string shapeName, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        using var document = JsonDocument.Parse(json.ToJsonString());
        var result = RequestValidator.Validate(document.RootElement, shapeName, model);
        if (result.TypeErrors.Count > 0)
        {
            throw new ApiException("InvalidParameterValue", 400, string.Join(" ", result.TypeErrors));
        }

        var missing = model[shapeName].Required.FirstOrDefault(r => !json.ContainsKey(r));
        if (missing is not null)
        {
            throw new ApiException("MissingParameter", 400, $"The parameter {missing} is required.");
        }

        if (result.Errors.Count > 0)
        {
            throw new ApiException("ValidationError", 400, ValidationResult.Format(result.Errors));
        }

        return document.RootElement.Deserialize(type) ?? throw new ApiException("InvalidParameterValue", 400, "The request is empty.");
    }
}
