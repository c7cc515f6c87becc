using System.Text.Json.Nodes;

namespace Trainyard.Cli;

/// <summary>
/// Reads a CreateTrainingJob request from a file for <c>trainyard run</c>, with conveniences for files
/// kept beside their data: a relative TrainingImage (<c>./algorithm</c>) and relative <c>file://</c>
/// URIs (<c>file://./data</c>) are resolved against the file's directory, and the job name gets a
/// timestamp suffix (as the SageMaker SDK's base_job_name does) so the same file can run again.
/// </summary>
public static class JobFile
{
    public static JsonObject Load(string path, string? name, bool exactName)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(full));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new CliException($"{path} is not valid JSON: {e.Message}");
        }

        if (node is not JsonObject job)
        {
            throw new CliException($"{path} must hold a JSON object: a CreateTrainingJob request.");
        }

        var baseName = name ?? job["TrainingJobName"]?.GetValue<string>() ?? Path.GetFileName(dir);
        if (exactName || name is not null)
        {
            job["TrainingJobName"] = baseName;
        }
        else
        {
            var suffix = "-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff", System.Globalization.CultureInfo.InvariantCulture);
            job["TrainingJobName"] = (baseName.Length + suffix.Length > 63 ? baseName[..(63 - suffix.Length)] : baseName) + suffix;
        }

        if (job["AlgorithmSpecification"]?["TrainingImage"] is JsonValue image && image.GetValue<string>() is { } img
            && (img.StartsWith("./", StringComparison.Ordinal) || img.StartsWith("../", StringComparison.Ordinal)))
        {
            job["AlgorithmSpecification"]!["TrainingImage"] = Path.GetFullPath(Path.Combine(dir, img));
        }

        job["RoleArn"] ??= "arn:aws:iam::000000000000:role/trainyard";
        ResolveFileUris(job, dir);
        return job;
    }

    /// <summary>Makes relative <c>file://</c> URIs absolute against <paramref name="dir"/>.</summary>
    public static void ResolveFileUris(JsonNode node, string dir)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var s) && s.StartsWith("file://", StringComparison.Ordinal) && !s.StartsWith("file:///", StringComparison.Ordinal))
                    {
                        obj[key] = "file://" + Path.GetFullPath(Path.Combine(dir, s["file://".Length..]));
                    }
                    else if (value is not null)
                    {
                        ResolveFileUris(value, dir);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        ResolveFileUris(item, dir);
                    }
                }

                break;
        }
    }
}
