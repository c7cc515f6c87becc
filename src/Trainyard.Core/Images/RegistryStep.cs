namespace Trainyard.Images;

/// <summary>The last step: a registry reference (<c>registry[:port]/repo[:tag][@digest]</c>, ECR URIs, Docker Hub short names).</summary>
public sealed class RegistryStep : IImageResolutionStep
{
    public string Name => "registry";

    public ImageResolution? Resolve(string image) =>
        ImageReference.TryParse(image, out var reference, out var problem)
            ? new ImageResolution.Resolved(new ResolvedImage.Container(new ImageLocation.Registry(reference!)))
            : new ImageResolution.Refused(
                $"TrainingImage '{image}' is neither an absolute path to an algorithm, a name in the server's image map, nor an image reference ({problem}). Map it with `trainyard serve --image NAME=/path/to/algorithm` or `--image NAME=registry/repo:tag`.");
}
