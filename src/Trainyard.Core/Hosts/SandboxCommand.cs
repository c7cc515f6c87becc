namespace Trainyard.Hosts;

/// <summary>
/// Builds the command line that starts the algorithm of one host: inside bubblewrap, with its own
/// <c>/opt/ml</c>, hostname and <c>/etc/hosts</c>, or — where bubblewrap is missing — as a plain child
/// process in a new session with the same layout under the host directory.
/// </summary>
public static class SandboxCommand
{
    private static readonly Lazy<string?> BwrapPath = new(() => FindOnPath("bwrap"));
    private static readonly Lazy<string?> SetsidPath = new(() => FindOnPath("setsid"));

    public static string? Bubblewrap => Environment.GetEnvironmentVariable("TRAINYARD_NO_SANDBOX") == "1" ? null : BwrapPath.Value;

    /// <summary>The algorithm's argv: the entrypoint (or <c>train</c>) followed by the container arguments.</summary>
    public static List<string> AlgorithmArgv(HostPlan plan)
    {
        var argv = plan.ContainerEntrypoint is { Count: > 0 } entry ? entry.ToList() : ["train"];
        if (plan.ContainerArguments is { } args)
        {
            argv.AddRange(args);
        }

        return argv;
    }

    public static (string FileName, List<string> Arguments, string WorkingDirectory, string PathVariable) Build(
        HostPlan plan, string hostsFile, bool sandboxed)
    {
        var argv = AlgorithmArgv(plan);
        var imageIsDirectory = Directory.Exists(plan.ImagePath);
        const string SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        if (sandboxed)
        {
            var args = new List<string>
            {
                "--ro-bind", "/", "/",
                "--dev", "/dev",
                "--proc", "/proc",
                "--tmpfs", "/tmp",
                "--tmpfs", "/opt",
                "--bind", plan.HostDirectory, "/opt/ml",
            };
            if (imageIsDirectory)
            {
                args.AddRange(["--ro-bind", plan.ImagePath, "/opt/program"]);
            }
            else
            {
                args.AddRange(["--dir", "/opt/program", "--ro-bind", plan.ImagePath, "/opt/program/train"]);
            }

            if (plan.CheckpointLocalPath is { } checkpoints && checkpoints.TrimEnd('/') != "/opt/ml/checkpoints")
            {
                args.AddRange(["--bind", plan.CheckpointDirectory, checkpoints]);
            }

            args.AddRange([
                "--ro-bind", hostsFile, "/etc/hosts",
                "--unshare-uts", "--hostname", plan.HostName,
                "--die-with-parent", "--new-session",
                "--chdir", "/opt/program",
                "--",
            ]);
            args.AddRange(argv);
            return (Bubblewrap!, args, plan.HostDirectory, "/opt/program:" + SystemPath);
        }

        var programDir = imageIsDirectory ? plan.ImagePath : Path.GetDirectoryName(plan.ImagePath)!;
        if (argv[0] == "train" && !imageIsDirectory)
        {
            argv[0] = plan.ImagePath;
        }
        else if (!argv[0].Contains('/', StringComparison.Ordinal) && File.Exists(Path.Combine(programDir, argv[0])))
        {
            argv[0] = Path.Combine(programDir, argv[0]);
        }

        // setsid puts the algorithm in a session (and process group) of its own, so that stopping the
        // host signals every process the algorithm started, and Ctrl-C at a terminal does not reach it.
        if (SetsidPath.Value is { } setsid)
        {
            return (setsid, argv, programDir, programDir + ":" + SystemPath);
        }

        return (argv[0], argv.Skip(1).ToList(), programDir, programDir + ":" + SystemPath);
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/bin").Append("/bin"))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
