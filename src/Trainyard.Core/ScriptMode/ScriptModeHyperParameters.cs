using System.Text.Json;
using System.Text.Json.Nodes;

namespace Trainyard.ScriptMode;

/// <summary>
/// A job's hyperparameters as sagemaker-training-toolkit reads them: every value is decoded with
/// <c>json.loads</c> (the SDK JSON-encodes them: <c>"\"train.py\""</c>, <c>"3"</c>) or kept as it is when it is
/// not JSON; the toolkit's own parameters and every <c>sagemaker_*</c> key are split from the user's.
/// </summary>
public sealed class ScriptModeHyperParameters
{
    public const string Program = "sagemaker_program";
    public const string SubmitDirectory = "sagemaker_submit_directory";
    public const string LogLevel = "sagemaker_container_log_level";
    public const string Region = "sagemaker_region";
    public const string JobName = "sagemaker_job_name";
    public const string Prefix = "sagemaker_";

    /// <summary>
    /// The toolkit's <c>SAGEMAKER_HYPERPARAMETERS</c>: neither the user's nor framework parameters. Two of
    /// them lack the <c>sagemaker_</c> prefix.
    /// </summary>
    public static readonly IReadOnlySet<string> ToolkitParameters = new HashSet<string>(StringComparer.Ordinal)
    {
        Program, SubmitDirectory, "sagemaker_enable_cloudwatch_metrics", Region, LogLevel, JobName,
        "default_user_module_name", "_tuning_objective_metric", "sagemaker_s3_output",
    };

    private ScriptModeHyperParameters(Dictionary<string, JsonNode?> all)
    {
        All = all;
        User = new JsonObject(all.Where(p => !IsSageMaker(p.Key)).OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
        Framework = new JsonObject(all.Where(p => p.Key.StartsWith(Prefix, StringComparison.Ordinal) && !ToolkitParameters.Contains(p.Key))
            .OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone())));
    }

    /// <summary>Every hyperparameter, decoded.</summary>
    public IReadOnlyDictionary<string, JsonNode?> All { get; }

    /// <summary>The user's hyperparameters (the toolkit's <c>hyperparameters</c>), sorted by name.</summary>
    public JsonObject User { get; }

    /// <summary><c>sagemaker_*</c> parameters other than the toolkit's own (<c>additional_framework_parameters</c>).</summary>
    public JsonObject Framework { get; }

    /// <summary>A toolkit parameter as Python's <c>str()</c> prints it, or null when absent.</summary>
    public string? Text(string name) => All.TryGetValue(name, out var v) ? PythonFormat.Str(v) : null;

    public static bool IsSageMaker(string name) => name.StartsWith(Prefix, StringComparison.Ordinal) || ToolkitParameters.Contains(name);

    public static ScriptModeHyperParameters Parse(IReadOnlyDictionary<string, string>? hyperParameters)
    {
        var all = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (k, v) in hyperParameters ?? new Dictionary<string, string>())
        {
            all[k] = Decode(v);
        }

        return new ScriptModeHyperParameters(all);
    }

    /// <summary>The toolkit's <c>json.loads(value)</c>, falling back to the string itself.</summary>
    public static JsonNode? Decode(string value)
    {
        try
        {
            return JsonNode.Parse(value);
        }
        catch (JsonException)
        {
            return JsonValue.Create(value);
        }
    }

    /// <summary>
    /// The toolkit's <c>mapping.to_cmd_args(hyperparameters)</c>: names sorted, <c>--name</c> (<c>-n</c> for a
    /// one-letter name), each value as Python's <c>str()</c> prints it (a dictionary as <c>k=v,k2=v2</c>).
    /// </summary>
    public IReadOnlyList<string> UserArguments()
    {
        var args = new List<string>();
        foreach (var (name, value) in User)
        {
            args.Add(name.Length > 1 ? "--" + name : "-" + name);
            args.Add(value is JsonObject map
                ? string.Join(",", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + PythonFormat.Str(p.Value)))
                : PythonFormat.Str(value));
        }

        return args;
    }

    /// <summary>The toolkit's <c>mapping.to_env_vars</c> value: a string as it is, null as empty, anything else as compact sorted JSON.</summary>
    public static string EnvironmentValue(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => PythonFormat.Dumps(value),
    };

    /// <summary>Python's truth of a decoded value, except that the strings "false" and "0" are false.</summary>
    public static bool IsTrue(JsonNode? value) => value switch
    {
        null => false,
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.String => v.GetValue<string>() is { Length: > 0 } s && !s.Equals("false", StringComparison.OrdinalIgnoreCase) && s != "0",
            JsonValueKind.Number => !IsZero(v.ToJsonString()),
            _ => false,
        },
        JsonArray a => a.Count > 0,
        JsonObject o => o.Count > 0,
        _ => false,
    };

    private static bool IsZero(string number) =>
        double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) && d == 0;
}
