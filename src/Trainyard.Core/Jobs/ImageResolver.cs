namespace Trainyard.Jobs;

/// <summary>
/// Finds the algorithm a TrainingImage names: an absolute path to a directory holding an executable
/// <c>train</c> (or to an executable), or a name (an ECR URI, say) that the server's image map sends to one.
/// </summary>
public static class ImageResolver
{
    /// <summary>The algorithm's path, or null with <paramref name="problem"/> saying why not.</summary>
    public static string? Resolve(string image, TrainyardOptions options, out string? problem)
    {
        problem = null;
        var candidate = image;
        if (options.Images.TryGetValue(image, out var mapped))
        {
            candidate = mapped;
        }
        else if (image.LastIndexOf(':') is var colon and > 0 && !image.StartsWith('/') && options.Images.TryGetValue(image[..colon], out var untagged))
        {
            candidate = untagged;
        }

        if (!Path.IsPathFullyQualified(candidate))
        {
            problem = $"TrainingImage '{image}' is neither an absolute path to an algorithm nor a name in the server's image map. Map it with `trainyard serve --image {image}=/path/to/algorithm`.";
            return null;
        }

        if (Directory.Exists(candidate))
        {
            var train = Path.Combine(candidate, "train");
            if (!File.Exists(train) || !IsExecutable(train))
            {
                problem = $"TrainingImage '{image}' is the directory {candidate}, which holds no executable 'train'.";
                return null;
            }

            return candidate;
        }

        if (File.Exists(candidate))
        {
            if (!IsExecutable(candidate))
            {
                problem = $"TrainingImage '{image}' is the file {candidate}, which is not executable (chmod +x it).";
                return null;
            }

            return candidate;
        }

        problem = $"TrainingImage '{image}' names {candidate}, which does not exist.";
        return null;
    }

    private static bool IsExecutable(string path) =>
        (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
