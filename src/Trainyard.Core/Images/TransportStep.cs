namespace Trainyard.Images;

/// <summary>A transport reference: <c>oci:DIR[:tag]</c>, <c>oci-archive:FILE[:tag]</c>, <c>docker-archive:FILE[:ref]</c>, <c>docker://REF</c>.</summary>
public sealed class TransportStep : IImageResolutionStep
{
    public string Name => "transports";

    public ImageResolution? Resolve(string image)
    {
        if (!ImageLocation.HasTransport(image))
        {
            return null;
        }

        return ImageLocation.TryParse(image, out var location, out var problem)
            ? new ImageResolution.Resolved(new ResolvedImage.Container(location!))
            : new ImageResolution.Refused($"TrainingImage '{image}' is not a valid image reference: {problem}.");
    }
}
