namespace Trainyard.Images;

/// <summary>
/// Resolves a TrainingImage by asking each step in order: an absolute path, the image map (whose target
/// may be a path or another image reference, resolved again by the steps after it), the built-in
/// runners, the transports (<c>oci:</c>, <c>oci-archive:</c>, <c>docker-archive:</c>, <c>docker://</c>),
/// and last a registry reference.
/// </summary>
public sealed class ImageResolutionOrder(IReadOnlyDictionary<string, string> imageMap)
{
    public IReadOnlyList<IImageResolutionStep> Steps { get; } =
    [
        new AbsolutePathStep(),
        new ImageMapStep(imageMap),
        .. BuiltInRunners.All,
        new TransportStep(),
        new RegistryStep(),
    ];

    /// <summary>The image, or null with <paramref name="problem"/> saying why not.</summary>
    public ResolvedImage? Resolve(string image, out string? problem)
    {
        problem = null;
        foreach (var step in Steps)
        {
            switch (step.Resolve(image))
            {
                case ImageResolution.Resolved resolved:
                    return resolved.Image;
                case ImageResolution.Refused refused:
                    problem = refused.Problem;
                    return null;
                case ImageResolution.Redirect redirect:
                    return ResolveAfterMap(image, redirect.Target, out problem);
            }
        }

        problem = $"TrainingImage '{image}' cannot be resolved.";
        return null;
    }

    private ResolvedImage? ResolveAfterMap(string image, string target, out string? problem)
    {
        problem = null;
        foreach (var step in Steps.Where(s => s is not ImageMapStep))
        {
            switch (step.Resolve(target))
            {
                case ImageResolution.Resolved resolved:
                    return resolved.Image;
                case ImageResolution.Refused refused:
                    problem = $"TrainingImage '{image}' is mapped to '{target}', which cannot be used: {refused.Problem}";
                    return null;
            }
        }

        problem = $"TrainingImage '{image}' is mapped to '{target}', which cannot be resolved.";
        return null;
    }
}
