using System.Collections.Frozen;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Trainyard.Model;

/// <summary>
/// A service model (botocore's data, cut down to the operations Trainyard serves), loaded once from an
/// embedded resource: SageMaker's with the members newer SDKs send merged in, and CloudWatch Logs',
/// CloudWatch's and STS's as they are. It is the source of truth for member names and constraints:
/// validation walks it instead of repeating it in code.
/// </summary>
public sealed class ServiceModel
{
    private static readonly Lazy<ServiceModel> LazyInstance = new(() => Load("sagemaker-training-api.json", "service-model-additions.json"));

    private ServiceModel(FrozenDictionary<string, Shape> shapes, FrozenDictionary<string, Operation> operations)
    {
        Shapes = shapes;
        Operations = operations;
    }

    /// <summary>The embedded SageMaker model.</summary>
    public static ServiceModel Instance => LazyInstance.Value;

    public FrozenDictionary<string, Shape> Shapes { get; }

    public FrozenDictionary<string, Operation> Operations { get; }

    public Shape this[string name] => Shapes[name];

    /// <summary>Loads the embedded model <paramref name="resource"/> (e.g. <c>logs-api.json</c>), with <paramref name="additionsResource"/> merged in.</summary>
    public static ServiceModel Load(string resource, string? additionsResource = null)
    {
        using var model = JsonDocument.Parse(ReadResource(resource));
        using var additions = JsonDocument.Parse(additionsResource is null ? "{\"shapes\":{},\"members\":{},\"patterns\":{}}" : ReadResource(additionsResource));

        var raw = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in model.RootElement.GetProperty("shapes").EnumerateObject())
        {
            raw[p.Name] = p.Value.Clone();
        }

        foreach (var p in additions.RootElement.GetProperty("shapes").EnumerateObject())
        {
            raw[p.Name] = p.Value.Clone();
        }

        var shapes = new Dictionary<string, Shape>(StringComparer.Ordinal);
        foreach (var (name, element) in raw)
        {
            shapes[name] = Shape.FromJson(name, element);
        }

        foreach (var target in additions.RootElement.GetProperty("members").EnumerateObject())
        {
            var shape = shapes[target.Name];
            foreach (var member in target.Value.EnumerateObject())
            {
                shape.Members[member.Name] = member.Value.GetProperty("shape").GetString()!;
            }
        }

        foreach (var pattern in additions.RootElement.GetProperty("patterns").EnumerateObject())
        {
            shapes[pattern.Name].SetPattern(pattern.Value.GetString()!);
        }

        var operations = new Dictionary<string, Operation>(StringComparer.Ordinal);
        foreach (var op in model.RootElement.GetProperty("operations").EnumerateObject())
        {
            string? input = op.Value.TryGetProperty("input", out var i) ? i.GetProperty("shape").GetString() : null;
            string? output = op.Value.TryGetProperty("output", out var o) ? o.GetProperty("shape").GetString() : null;
            operations[op.Name] = new Operation(op.Name, input, output);
        }

        return new ServiceModel(shapes.ToFrozenDictionary(StringComparer.Ordinal), operations.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static string ReadResource(string name)
    {
        using var stream = typeof(ServiceModel).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded resource '{name}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public sealed record Operation(string Name, string? Input, string? Output);

    /// <summary>One shape of the model with the constraints validation needs.</summary>
    public sealed class Shape
    {
        private Regex? _regex;

        private Shape(string name, string type)
        {
            Name = name;
            Type = type;
        }

        public string Name { get; }

        public string Type { get; }

        public long? Min { get; private init; }

        public long? Max { get; private init; }

        public string? Pattern { get; private set; }

        public IReadOnlyList<string>? Enum { get; private init; }

        public HashSet<string> Required { get; } = new(StringComparer.Ordinal);

        /// <summary>Member name → shape name, in the model's order.</summary>
        public Dictionary<string, string> Members { get; } = new(StringComparer.Ordinal);

        public string? ListMember { get; private init; }

        public string? MapKey { get; private init; }

        public string? MapValue { get; private init; }

        /// <summary>The pattern as AWS applies it: the whole value must match (Java's <c>matches</c>).</summary>
        public Regex? Regex => Pattern is null ? null : _regex ??= new Regex(
            "^(?:" + Pattern + ")$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));

        internal void SetPattern(string pattern)
        {
            Pattern = pattern;
            _regex = null;
        }

        internal static Shape FromJson(string name, JsonElement e)
        {
            var shape = new Shape(name, e.GetProperty("type").GetString()!)
            {
                Min = e.TryGetProperty("min", out var min) ? min.GetInt64() : null,
                Max = e.TryGetProperty("max", out var max) ? max.GetInt64() : null,
                Enum = e.TryGetProperty("enum", out var en) ? en.EnumerateArray().Select(x => x.GetString()!).ToArray() : null,
                ListMember = e.TryGetProperty("member", out var m) ? m.GetProperty("shape").GetString() : null,
                MapKey = e.TryGetProperty("key", out var k) ? k.GetProperty("shape").GetString() : null,
                MapValue = e.TryGetProperty("value", out var v) ? v.GetProperty("shape").GetString() : null,
            };
            if (e.TryGetProperty("pattern", out var p))
            {
                shape.Pattern = p.GetString();
            }

            if (e.TryGetProperty("required", out var req))
            {
                foreach (var r in req.EnumerateArray())
                {
                    shape.Required.Add(r.GetString()!);
                }
            }

            if (e.TryGetProperty("members", out var members))
            {
                foreach (var member in members.EnumerateObject())
                {
                    shape.Members[member.Name] = member.Value.GetProperty("shape").GetString()!;
                }
            }

            return shape;
        }
    }
}
