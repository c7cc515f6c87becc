namespace Trainyard.Images;

/// <summary>An absolute path: a local algorithm (a directory holding an executable <c>train</c>, or an executable).</summary>
public sealed class AbsolutePathStep : IImageResolutionStep
{
    public string Name => "absolute path";

    public ImageResolution? Resolve(string image)
    {
        if (!image.StartsWith('/'))
        {
            return null;
        }

        if (Directory.Exists(image))
        {
            var train = Path.Combine(image, "train");
            return File.Exists(train) && IsExecutable(train)
                ? new ImageResolution.Resolved(new ResolvedImage.Executable(image))
                : new ImageResolution.Refused($"TrainingImage '{image}' is a directory which holds no executable 'train'.");
        }

        if (File.Exists(image))
        {
            return IsExecutable(image)
                ? new ImageResolution.Resolved(new ResolvedImage.Executable(image))
                : new ImageResolution.Refused($"TrainingImage '{image}' is a file which is not executable (chmod +x it).");
        }

        return new ImageResolution.Refused($"TrainingImage '{image}' does not exist.");
    }

    private static bool IsExecutable(string path) =>
        (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
}
