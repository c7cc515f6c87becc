using Trainyard.Images;

namespace Trainyard.Jobs;

/// <summary>
/// Finds what a TrainingImage names, in the order of <see cref="ImageResolutionOrder"/>: a local
/// algorithm's path, or a container image's location. The answer is what a job records.
/// </summary>
public static class ImageResolver
{
    /// <summary>The resolved image in its stored form, or null with <paramref name="problem"/> saying why not.</summary>
    public static string? Resolve(string image, TrainyardOptions options, out string? problem)
    {
        var resolved = new ImageResolutionOrder(options.Images).Resolve(image, out problem);
        if (resolved is ResolvedImage.Container container)
        {
            // Jobs run local algorithms until the image runtime lands; `trainyard images pull` already fetches images.
            problem = $"TrainingImage '{image}' is the container image {container.Location.Display}, which jobs cannot run yet. Map it to a local algorithm with `trainyard serve --image {image}=/path/to/algorithm`.";
            return null;
        }

        return resolved?.Stored;
    }
}
