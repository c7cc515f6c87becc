namespace Trainyard.Images;

/// <summary>What a TrainingImage turned out to be.</summary>
public abstract record ResolvedImage
{
    private protected ResolvedImage()
    {
    }

    /// <summary>The form a job records and its hosts read back (<see cref="Parse"/>).</summary>
    public abstract string Stored { get; }

    /// <summary>A local algorithm: a directory holding an executable <c>train</c>, or an executable.</summary>
    public sealed record Executable(string Path) : ResolvedImage
    {
        public override string Stored => Path;
    }

    /// <summary>A container image, pulled into the cache and run as the host's root file system.</summary>
    public sealed record Container(ImageLocation Location) : ResolvedImage
    {
        public override string Stored => Location.ToString();
    }

    /// <summary>
    /// A SageMaker framework image run as Trainyard's built-in script-mode runner: the job's
    /// <c>sagemaker_program</c> on <see cref="Interpreter"/> (an absolute path to a Python).
    /// </summary>
    public sealed record ScriptMode(string Interpreter) : ResolvedImage
    {
        public const string Prefix = "script-mode:";

        public override string Stored => Prefix + Interpreter;
    }

    /// <summary>Reads back what <see cref="Stored"/> wrote.</summary>
    public static ResolvedImage Parse(string stored) =>
        stored.StartsWith('/') ? new Executable(stored)
        : stored.StartsWith(ScriptMode.Prefix, StringComparison.Ordinal) ? new ScriptMode(stored[ScriptMode.Prefix.Length..])
        : new Container(ImageLocation.Parse(stored));
}
