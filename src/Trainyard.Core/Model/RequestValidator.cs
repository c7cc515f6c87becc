using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Trainyard.Model;

/// <summary>
/// Checks a request body against its shape in the service model — types, required members, enums,
/// patterns, lengths, ranges, list and map sizes — and reports every violation at once with AWS's own
/// wording and member paths (<c>inputDataConfig.1.member.channelName</c>).
/// </summary>
public static class RequestValidator
{
    /// <summary>Validates <paramref name="body"/> as an instance of <paramref name="shapeName"/>.</summary>
    public static ValidationResult Validate(JsonElement body, string shapeName, ServiceModel? model = null)
    {
        model ??= ServiceModel.Instance;
        var result = new ValidationResult();
        if (body.ValueKind != JsonValueKind.Object)
        {
            result.TypeErrors.Add($"The request body must be a JSON object, not {Describe(body.ValueKind)}.");
            return result;
        }

        Walk(model, model[shapeName], body, path: "", result);
        return result;
    }

    private static void Walk(ServiceModel model, ServiceModel.Shape shape, JsonElement value, string path, ValidationResult result)
    {
        switch (shape.Type)
        {
            case "structure":
                if (!Expect(value, JsonValueKind.Object, "an object", path, result))
                {
                    return;
                }

                foreach (var (member, memberShape) in shape.Members)
                {
                    var memberPath = Join(path, member);
                    if (!value.TryGetProperty(member, out var memberValue) || memberValue.ValueKind == JsonValueKind.Null)
                    {
                        if (shape.Required.Contains(member))
                        {
                            result.Add($"Value null at '{memberPath}' failed to satisfy constraint: Member must not be null");
                        }

                        continue;
                    }

                    Walk(model, model[memberShape], memberValue, memberPath, result);
                }

                break;

            case "list":
                if (!Expect(value, JsonValueKind.Array, "a list", path, result))
                {
                    return;
                }

                CheckLength(shape, value.GetArrayLength(), Render(value), path, result);
                var index = 0;
                var itemShape = model[shape.ListMember!];
                foreach (var item in value.EnumerateArray())
                {
                    index++;
                    if (item.ValueKind == JsonValueKind.Null)
                    {
                        result.Add($"Value null at '{path}.{index}.member' failed to satisfy constraint: Member must not be null");
                        continue;
                    }

                    Walk(model, itemShape, item, $"{path}.{index}.member", result);
                }

                break;

            case "map":
                if (!Expect(value, JsonValueKind.Object, "a map", path, result))
                {
                    return;
                }

                var count = 0;
                var keyShape = model[shape.MapKey!];
                var valueShape = model[shape.MapValue!];
                var keyProblems = new List<string>();
                var valueProblems = new List<string>();
                foreach (var entry in value.EnumerateObject())
                {
                    count++;
                    foreach (var problem in StringProblems(keyShape, entry.Name))
                    {
                        keyProblems.Add(problem);
                    }

                    if (valueShape.Type == "string")
                    {
                        if (entry.Value.ValueKind != JsonValueKind.String)
                        {
                            result.TypeErrors.Add($"Expected a string for '{path}.{entry.Name}', got {Describe(entry.Value.ValueKind)}.");
                            continue;
                        }

                        valueProblems.AddRange(StringProblems(valueShape, entry.Value.GetString()!));
                    }
                    else
                    {
                        Walk(model, valueShape, entry.Value, $"{path}.{entry.Name}", result);
                    }
                }

                CheckLength(shape, count, Render(value), path, result);
                if (keyProblems.Count > 0)
                {
                    result.Add($"Value '{Render(value)}' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: [{string.Join(", ", keyProblems.Distinct())}]");
                }

                if (valueProblems.Count > 0)
                {
                    result.Add($"Value '{Render(value)}' at '{path}' failed to satisfy constraint: Map value must satisfy constraint: [{string.Join(", ", valueProblems.Distinct())}]");
                }

                break;

            case "string":
                if (!Expect(value, JsonValueKind.String, "a string", path, result))
                {
                    return;
                }

                var text = value.GetString()!;
                foreach (var problem in StringProblems(shape, text))
                {
                    result.Add($"Value '{Truncate(text)}' at '{path}' failed to satisfy constraint: {problem}");
                }

                break;

            case "integer":
            case "long":
                if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number)
                    || (shape.Type == "integer" && (number < int.MinValue || number > int.MaxValue)))
                {
                    result.TypeErrors.Add($"Expected {(shape.Type == "integer" ? "a 32-bit" : "a 64-bit")} integer for '{path}', got {Describe(value)}.");
                    return;
                }

                if (shape.Min is { } min && number < min)
                {
                    result.Add($"Value '{number}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {min}");
                }

                if (shape.Max is { } max && number > max)
                {
                    result.Add($"Value '{number}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {max}");
                }

                break;

            case "float":
            case "double":
                if (value.ValueKind != JsonValueKind.Number)
                {
                    result.TypeErrors.Add($"Expected a number for '{path}', got {Describe(value)}.");
                }

                break;

            case "boolean":
                if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    result.TypeErrors.Add($"Expected true or false for '{path}', got {Describe(value)}.");
                }

                break;

            case "timestamp":
                if (!JsonTimestamp.TryRead(value, out _))
                {
                    result.TypeErrors.Add($"Expected a timestamp (epoch seconds) for '{path}', got {Describe(value)}.");
                }

                break;

            default:
                // blob and other types are not used by the operations served.
                break;
        }
    }

    private static IEnumerable<string> StringProblems(ServiceModel.Shape shape, string text)
    {
        if (shape.Min is { } min && text.Length < min)
        {
            yield return $"Member must have length greater than or equal to {min}";
        }

        if (shape.Max is { } max && text.Length > max)
        {
            yield return $"Member must have length less than or equal to {max}";
        }

        if (shape.Enum is { } values && !values.Contains(text, StringComparer.Ordinal))
        {
            yield return $"Member must satisfy enum value set: [{string.Join(", ", values)}]";
        }

        if (shape.Regex is { } regex && !Matches(regex, text))
        {
            yield return $"Member must satisfy regular expression pattern: {shape.Pattern}";
        }
    }

    private static bool Matches(Regex regex, string text)
    {
        try
        {
            return regex.IsMatch(text);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    private static void CheckLength(ServiceModel.Shape shape, int length, string rendered, string path, ValidationResult result)
    {
        if (shape.Min is { } min && length < min)
        {
            result.Add($"Value '{rendered}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {min}");
        }

        if (shape.Max is { } max && length > max)
        {
            result.Add($"Value '{rendered}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {max}");
        }
    }

    private static bool Expect(JsonElement value, JsonValueKind kind, string what, string path, ValidationResult result)
    {
        if (value.ValueKind == kind)
        {
            return true;
        }

        result.TypeErrors.Add($"Expected {what} for '{(path.Length == 0 ? "the request" : path)}', got {Describe(value)}.");
        return false;
    }

    private static string Join(string path, string member)
    {
        var camel = char.ToLowerInvariant(member[0]) + member[1..];
        return path.Length == 0 ? camel : path + "." + camel;
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"the string '{Truncate(value.GetString()!)}'",
        JsonValueKind.Number => $"the number {Truncate(value.GetRawText())}",
        _ => Describe(value.ValueKind),
    };

    private static string Render(JsonElement value)
    {
        var raw = value.GetRawText();
        return Truncate(raw);
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";
}

/// <summary>What <see cref="RequestValidator"/> found.</summary>
public sealed class ValidationResult
{
    /// <summary>Members whose JSON type is wrong: the body cannot be read as the shape at all.</summary>
    public List<string> TypeErrors { get; } = [];

    /// <summary>Constraint violations in AWS's wording.</summary>
    public List<string> Errors { get; } = [];

    public bool IsValid => TypeErrors.Count == 0 && Errors.Count == 0;

    public void Add(string error) => Errors.Add(error);

    /// <summary>AWS's one-message form: "2 validation errors detected: …; …".</summary>
    public static string Format(IReadOnlyCollection<string> errors)
    {
        var sb = new StringBuilder();
        sb.Append(errors.Count.ToString(CultureInfo.InvariantCulture))
          .Append(errors.Count == 1 ? " validation error detected: " : " validation errors detected: ");
        sb.AppendJoin("; ", errors);
        return sb.ToString();
    }
}
