namespace Trainyard.Images;

/// <summary>
/// The server's image map (<c>serve --image NAME=TARGET</c>, <c>&lt;home&gt;/images.json</c>): a name with its
/// tag, or without one (matching every tag), stands for a local path or another image reference.
/// </summary>
public sealed class ImageMapStep(IReadOnlyDictionary<string, string> map) : IImageResolutionStep
{
    public string Name => "image map";

    public ImageResolution? Resolve(string image)
    {
        if (map.TryGetValue(image, out var target))
        {
            return new ImageResolution.Redirect(target);
        }

        var untagged = image;
        var at = untagged.IndexOf('@', StringComparison.Ordinal);
        if (at > 0)
        {
            untagged = untagged[..at];
        }

        var colon = untagged.LastIndexOf(':');
        if (colon > untagged.LastIndexOf('/') && colon > 0)
        {
            untagged = untagged[..colon];
        }

        return untagged != image && map.TryGetValue(untagged, out target) ? new ImageResolution.Redirect(target) : null;
    }
}
