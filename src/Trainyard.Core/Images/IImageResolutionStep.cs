namespace Trainyard.Images;

/// <summary>
/// One step of the resolution order of a TrainingImage (absolute path → image map → built-in runners →
/// transports → registry). A step answers only for the names it recognises; null passes to the next.
/// </summary>
public interface IImageResolutionStep
{
    /// <summary>What the step is, for messages and the README's order.</summary>
    string Name { get; }

    ImageResolution? Resolve(string image);
}

/// <summary>A step's answer.</summary>
public abstract record ImageResolution
{
    private ImageResolution()
    {
    }

    /// <summary>The image is this.</summary>
    public sealed record Resolved(ResolvedImage Image) : ImageResolution;

    /// <summary>The name stands for another one (an image-map entry), which the later steps resolve.</summary>
    public sealed record Redirect(string Target) : ImageResolution;

    /// <summary>The step recognised the name and it cannot be used; the message says why and what to do.</summary>
    public sealed record Refused(string Problem) : ImageResolution;
}
