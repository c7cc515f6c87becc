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
        var job = ReadObject(path, "a CreateTrainingJob request");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
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

        ResolveImage(job["AlgorithmSpecification"], dir);
        job["RoleArn"] ??= "arn:aws:iam::000000000000:role/trainyard";
        ResolveFileUris(job, dir);
        return job;
    }

    /// <summary>Reads a request file that must hold one JSON object; <paramref name="what"/> names it in errors.</summary>
    public static JsonObject ReadObject(string path, string what)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(Path.GetFullPath(path)));
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new CliException($"{path} is not valid JSON: {e.Message}");
        }

        return node as JsonObject ?? throw new CliException($"{path} must hold a JSON object: {what}.");
    }

    /// <summary>Makes a relative <c>TrainingImage</c> (<c>./algorithm</c>) of <paramref name="owner"/> absolute against <paramref name="dir"/>.</summary>
    public static void ResolveImage(JsonNode? owner, string dir)
    {
        if (owner?["TrainingImage"] is JsonValue image && image.GetValue<string>() is { } path
            && (path.StartsWith("./", StringComparison.Ordinal) || path.StartsWith("../", StringComparison.Ordinal)))
        {
            owner["TrainingImage"] = Path.GetFullPath(Path.Combine(dir, path));
        }
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
