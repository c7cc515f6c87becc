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
        => new ImageResolutionOrder(options.Images).Resolve(image, out problem)?.Stored;
}
