using System.Globalization;
using System.Text.RegularExpressions;
using Trainyard.Model;

namespace Trainyard.Algorithms;

/// <summary>
/// Checks a training job against the algorithm it names, as SageMaker does before anything runs, and
/// reports every violation at once: hyperparameters (unknown, wrong type, out of range, missing
/// required ones), channels (unknown, missing required ones, unsupported content type, compression or
/// input mode), instance type and count. Also fills in the hyperparameters' default values.
/// </summary>
public static class AlgorithmChecks
{
    /// <summary>Hyperparameters SageMaker passes to any algorithm without checking them.</summary>
    public static bool IsPassThrough(string name) =>
        name.StartsWith("sagemaker_", StringComparison.Ordinal) || name.StartsWith("_tuning_objective_metric", StringComparison.Ordinal);

    public static (List<string> Problems, Dictionary<string, string> HyperParameters) CheckJob(
        string algorithm, TrainingSpecification spec, string trainingInputMode, IReadOnlyDictionary<string, string>? hyperParameters,
        IReadOnlyList<Channel>? channels, ResourceConfig resources)
    {
        var problems = new List<string>();
        var filled = new Dictionary<string, string>(hyperParameters ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        var specs = (spec.SupportedHyperParameters ?? []).ToDictionary(h => h.Name, StringComparer.Ordinal);
        foreach (var (name, value) in hyperParameters ?? new Dictionary<string, string>())
        {
            if (IsPassThrough(name))
            {
                continue;
            }

            if (!specs.TryGetValue(name, out var hp))
            {
                problems.Add($"Hyperparameter '{name}' is not supported by algorithm '{algorithm}' (supported: {string.Join(", ", specs.Keys.Order(StringComparer.Ordinal))}).");
                continue;
            }

            if (ValueProblem(hp, value) is { } problem)
            {
                problems.Add(problem);
            }
        }

        foreach (var hp in specs.Values)
        {
            if (filled.ContainsKey(hp.Name))
            {
                continue;
            }

            if (hp.DefaultValue is { } defaultValue)
            {
                filled[hp.Name] = defaultValue;
            }
            else if (hp.IsRequired == true)
            {
                problems.Add($"Hyperparameter '{hp.Name}' is required by algorithm '{algorithm}' and has no default value.");
            }
        }

        var channelSpecs = spec.TrainingChannels.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        foreach (var channel in channels ?? [])
        {
            given.Add(channel.ChannelName);
            if (!channelSpecs.TryGetValue(channel.ChannelName, out var cs))
            {
                problems.Add($"Channel '{channel.ChannelName}' is not a training channel of algorithm '{algorithm}' (its channels: {string.Join(", ", channelSpecs.Keys)}).");
                continue;
            }

            if (channel.ContentType is { } contentType && cs.SupportedContentTypes.Count > 0 && !cs.SupportedContentTypes.Contains(contentType, StringComparer.Ordinal))
            {
                problems.Add($"Channel '{channel.ChannelName}' has ContentType '{contentType}'; algorithm '{algorithm}' supports {string.Join(", ", cs.SupportedContentTypes)}.");
            }

            var compression = channel.CompressionType ?? "None";
            if (cs.SupportedCompressionTypes is { Count: > 0 } compressions && !compressions.Contains(compression, StringComparer.Ordinal))
            {
                problems.Add($"Channel '{channel.ChannelName}' has CompressionType '{compression}'; algorithm '{algorithm}' supports {string.Join(", ", compressions)}.");
            }

            var mode = channel.InputMode ?? trainingInputMode;
            if (!cs.SupportedInputModes.Contains(mode, StringComparer.Ordinal))
            {
                problems.Add($"Channel '{channel.ChannelName}' uses input mode {mode}; algorithm '{algorithm}' supports {string.Join(", ", cs.SupportedInputModes)} for it.");
            }
        }

        foreach (var cs in spec.TrainingChannels.Where(c => c.IsRequired == true && !given.Contains(c.Name)))
        {
            problems.Add($"Channel '{cs.Name}' is required by algorithm '{algorithm}' but the job does not provide it.");
        }

        if (resources.InstanceType is { } type && !spec.SupportedTrainingInstanceTypes.Contains(type, StringComparer.Ordinal))
        {
            problems.Add($"Instance type {type} is not supported by algorithm '{algorithm}' (supported: {string.Join(", ", spec.SupportedTrainingInstanceTypes)}).");
        }

        if ((resources.InstanceCount ?? 1) > 1 && spec.SupportsDistributedTraining != true)
        {
            problems.Add($"Algorithm '{algorithm}' does not support distributed training: InstanceCount must be 1, not {resources.InstanceCount}.");
        }

        return (problems, filled);
    }

    /// <summary>What is wrong with <paramref name="value"/> for <paramref name="hp"/>, or null.</summary>
    public static string? ValueProblem(HyperParameterSpecification hp, string value)
    {
        switch (hp.Type)
        {
            case "Integer":
                if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer))
                {
                    return $"Hyperparameter '{hp.Name}' must be an Integer; '{value}' is not.";
                }

                if (hp.Range?.IntegerParameterRangeSpecification is { } ir
                    && long.TryParse(ir.MinValue, NumberStyles.Integer, CultureInfo.InvariantCulture, out var imin)
                    && long.TryParse(ir.MaxValue, NumberStyles.Integer, CultureInfo.InvariantCulture, out var imax)
                    && (integer < imin || integer > imax))
                {
                    return $"Hyperparameter '{hp.Name}' is {value}, outside its range [{ir.MinValue}, {ir.MaxValue}].";
                }

                return null;

            case "Continuous":
                if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) || !double.IsFinite(number))
                {
                    return $"Hyperparameter '{hp.Name}' must be Continuous (a number); '{value}' is not.";
                }

                if (hp.Range?.ContinuousParameterRangeSpecification is { } cr
                    && double.TryParse(cr.MinValue, NumberStyles.Float, CultureInfo.InvariantCulture, out var cmin)
                    && double.TryParse(cr.MaxValue, NumberStyles.Float, CultureInfo.InvariantCulture, out var cmax)
                    && (number < cmin || number > cmax))
                {
                    return $"Hyperparameter '{hp.Name}' is {value}, outside its range [{cr.MinValue}, {cr.MaxValue}].";
                }

                return null;

            case "Categorical":
                if (hp.Range?.CategoricalParameterRangeSpecification is { } values && !values.Values.Contains(value, StringComparer.Ordinal))
                {
                    return $"Hyperparameter '{hp.Name}' is '{value}'; it must be one of {string.Join(", ", values.Values)}.";
                }

                return null;

            default:
                return null; // FreeText
        }
    }

    /// <summary>Problems with the specification itself: ranges of the wrong type, defaults out of range, bad metric regexes.</summary>
    public static List<string> CheckSpecification(TrainingSpecification spec)
    {
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var hp in spec.SupportedHyperParameters ?? [])
        {
            if (!seen.Add(hp.Name))
            {
                problems.Add($"Hyperparameter '{hp.Name}' is specified twice.");
            }

            var range = hp.Range;
            if (range is not null)
            {
                var kinds = new object?[] { range.IntegerParameterRangeSpecification, range.ContinuousParameterRangeSpecification, range.CategoricalParameterRangeSpecification }.Count(r => r is not null);
                var matches = hp.Type switch
                {
                    "Integer" => range.IntegerParameterRangeSpecification is not null,
                    "Continuous" => range.ContinuousParameterRangeSpecification is not null,
                    "Categorical" => range.CategoricalParameterRangeSpecification is not null,
                    _ => false,
                };
                if (kinds != 1 || !matches)
                {
                    problems.Add($"Hyperparameter '{hp.Name}' of type {hp.Type} must have exactly one Range, of its own type.");
                }
            }

            if (hp.DefaultValue is { } d && ValueProblem(hp, d) is { } problem)
            {
                problems.Add("DefaultValue: " + problem);
            }
        }

        foreach (var metric in spec.MetricDefinitions ?? [])
        {
            if (MetricProblem(metric) is { } problem)
            {
                problems.Add(problem);
            }
        }

        if (spec.TrainingChannels.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count() != spec.TrainingChannels.Count)
        {
            problems.Add("TrainingChannels has two channels of the same name.");
        }

        return problems;
    }

    public static string? MetricProblem(MetricDefinition metric)
    {
        try
        {
            _ = new Regex(metric.Regex, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(50));
            return null;
        }
        catch (ArgumentException e)
        {
            return $"MetricDefinitions '{metric.Name}': '{metric.Regex}' is not a valid regular expression: {e.Message}";
        }
    }
}
