namespace Trainyard.Images;

/// <summary>
/// The built-in script-mode runner: a SageMaker framework image (<see cref="FrameworkImages"/>) runs the
/// job's <c>sagemaker_program</c> on the machine's Python, as sagemaker-training-toolkit would inside the
/// image. An image-map target <c>python:/path/to/python</c> (or <c>python:/path/to/venv</c>) names another
/// interpreter; the map is asked first, so it can also send a framework image to a real image.
/// </summary>
public sealed class ScriptModeStep(string defaultInterpreter = ScriptModeStep.MachinePython) : IImageResolutionStep
{
    /// <summary>The interpreter framework images run on unless the image map names another.</summary>
    public const string MachinePython = "/usr/bin/python3";

    /// <summary>The prefix of an image-map target that names an interpreter.</summary>
    public const string InterpreterPrefix = "python:";

    public string Name => "script mode";

    public ImageResolution? Resolve(string image)
    {
        if (image.StartsWith(InterpreterPrefix, StringComparison.Ordinal) && image.Length > InterpreterPrefix.Length && image[InterpreterPrefix.Length] == '/')
        {
            return Interpreter(image, image[InterpreterPrefix.Length..]);
        }

        return FrameworkImages.RepositoryOf(image) is null ? null : Interpreter(image, defaultInterpreter);
    }

    private static ImageResolution Interpreter(string image, string path)
    {
        // A virtualenv (or any prefix) stands for its bin/python.
        if (Directory.Exists(path))
        {
            var inside = new[] { "bin/python3", "bin/python" }.Select(p => Path.Combine(path, p)).FirstOrDefault(File.Exists);
            if (inside is null)
            {
                return new ImageResolution.Refused($"TrainingImage '{image}' runs in script mode on '{path}', a directory with no bin/python3 or bin/python.");
            }

            path = inside;
        }

        if (!File.Exists(path))
        {
            return new ImageResolution.Refused(
                $"TrainingImage '{image}' runs in script mode on the Python interpreter '{path}', which does not exist: install python3, or name another interpreter in images.json (\"IMAGE\": \"python:/path/to/venv/bin/python\").");
        }

        return new ImageResolution.Resolved(new ResolvedImage.ScriptMode(Path.GetFullPath(path)));
    }
}
