namespace Trainyard.Hosts;

/// <summary>
/// Builds the command line that starts the algorithm of one host: a <see cref="SandboxSpec"/> (the one
/// place that says what a host's sandbox is) rendered for bubblewrap, or — where bubblewrap is missing —
/// a plain child process in a new session with the same layout under the host directory.
/// </summary>
public static class SandboxCommand
{
    private static readonly Lazy<string?> BwrapPath = new(() => FindOnPath("bwrap"));
    private static readonly Lazy<string?> SetsidPath = new(() => FindOnPath("setsid"));
    private static readonly Lazy<string> NsenterPath = new(() => FindOnPath("nsenter") ?? "nsenter");

    public const string SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

    /// <summary>The machine's root read-only, fresh <c>/tmp</c> and <c>/opt</c>, the host directory as <c>/opt/ml</c>.</summary>
    private static List<SandboxMount> MachineRootMounts(HostPlan plan) =>
    [
        new SandboxMount.Bind("/", "/", ReadOnly: true),
        new SandboxMount.Dev("/dev"),
        new SandboxMount.Proc("/proc"),
        new SandboxMount.Tmpfs("/tmp"),
        new SandboxMount.Tmpfs("/opt"),
        new SandboxMount.Bind(plan.HostDirectory, "/opt/ml", ReadOnly: false),
    ];

    /// <summary>CheckpointConfig.LocalPath when it is not /opt/ml/checkpoints, and the host's /etc/hosts.</summary>
    private static void AddHostMounts(HostPlan plan, string hostsFile, List<SandboxMount> mounts)
    {
        if (plan.CheckpointLocalPath is { } checkpoints && checkpoints.TrimEnd('/') != "/opt/ml/checkpoints")
        {
            mounts.Add(new SandboxMount.Bind(plan.CheckpointDirectory, checkpoints, ReadOnly: false));
        }

        mounts.Add(new SandboxMount.Bind(hostsFile, "/etc/hosts", ReadOnly: true));
    }

    /// <summary>
    /// The sandbox of a script-mode host: the machine's root as for a local executable, the working
    /// directory <c>/opt/ml/code</c>, and <paramref name="extra"/> (the interpreter's prefix and the job's
    /// virtualenv when they lie under <c>/tmp</c> or <c>/opt</c>, which are fresh in the sandbox).
    /// </summary>
    public static SandboxSpec ScriptModeSpec(HostPlan plan, string hostsFile, IReadOnlyList<string> argv, IEnumerable<SandboxMount> extra, string pathVariable)
    {
        var mounts = MachineRootMounts(plan);
        mounts.AddRange(extra);
        AddHostMounts(plan, hostsFile, mounts);
        return new SandboxSpec
        {
            Argv = argv,
            Mounts = mounts,
            Hostname = plan.HostName,
            WorkingDirectory = "/opt/ml/code",
            PathVariable = pathVariable,
        };
    }

    /// <summary>True when <paramref name="path"/> is hidden in a sandbox (beneath its fresh <c>/tmp</c> or <c>/opt</c>).</summary>
    public static bool HiddenInSandbox(string path) =>
        path.StartsWith("/tmp/", StringComparison.Ordinal) || path.StartsWith("/opt/", StringComparison.Ordinal);

    /// <summary>A plain child process in a session of its own (no sandbox): setsid when the machine has it.</summary>
    public static (string FileName, List<string> Arguments) InSession(IReadOnlyList<string> argv) =>
        SetsidPath.Value is { } setsid ? (setsid, argv.ToList()) : (argv[0], argv.Skip(1).ToList());

    /// <summary>The sandbox of a local executable: the machine's root read-only, the algorithm at <c>/opt/program</c>.</summary>
    public static SandboxSpec ExecutableSpec(HostPlan plan, string hostsFile)
    {
        var mounts = MachineRootMounts(plan);
        if (Directory.Exists(plan.ImagePath))
        {
            mounts.Add(new SandboxMount.Bind(plan.ImagePath, "/opt/program", ReadOnly: true));
        }
        else
        {
            mounts.Add(new SandboxMount.Dir("/opt/program"));
            mounts.Add(new SandboxMount.Bind(plan.ImagePath, "/opt/program/train", ReadOnly: true));
        }

        AddHostMounts(plan, hostsFile, mounts);
        return new SandboxSpec
        {
            Argv = AlgorithmArgv(plan),
            Mounts = mounts,
            Hostname = plan.HostName,
            WorkingDirectory = "/opt/program",
            PathVariable = "/opt/program:" + SystemPath,
        };
    }

    /// <summary>
    /// The bubblewrap command for <paramref name="spec"/>. In a user namespace (<paramref name="userNamespaceFd"/>,
    /// inherited by the child) bubblewrap 0.8 switches ids with <c>--userns</c> only to a uid other than its
    /// own: as root (uid 0 outside) it would stay uid 0 outside, which the namespace does not map. So root
    /// inside enters the namespace with nsenter first and runs bubblewrap there as uid 0 of the namespace.
    /// </summary>
    public static (string FileName, List<string> Arguments) Render(SandboxSpec spec, int? userNamespaceFd)
    {
        var fileName = Bubblewrap!;
        var args = new List<string>();
        if (userNamespaceFd is { } fd)
        {
            var n = fd.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (spec.Uid == 0)
            {
                args.AddRange([$"--user=/proc/self/fd/{n}", "--setuid=0", $"--setgid={spec.Gid}", "--", fileName]);
                fileName = NsenterPath.Value;
            }
            else
            {
                args.AddRange(["--userns", n, "--uid", spec.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--gid", spec.Gid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            }
        }

        foreach (var mount in spec.Mounts)
        {
            switch (mount)
            {
                case SandboxMount.Bind b:
                    args.AddRange([b.ReadOnly ? "--ro-bind" : "--bind", b.Source, b.Destination]);
                    break;
                case SandboxMount.Tmpfs t:
                    args.AddRange(["--tmpfs", t.Destination]);
                    break;
                case SandboxMount.Dev d:
                    args.AddRange(["--dev", d.Destination]);
                    break;
                case SandboxMount.Proc p:
                    args.AddRange(["--proc", p.Destination]);
                    break;
                case SandboxMount.Dir d:
                    args.AddRange(["--dir", d.Destination]);
                    break;
            }
        }

        args.AddRange([
            "--unshare-uts", "--hostname", spec.Hostname,
            "--die-with-parent", "--new-session",
            "--chdir", spec.WorkingDirectory,
            "--",
        ]);
        args.AddRange(spec.Argv);
        return (fileName, args);
    }

    public static (string FileName, List<string> Arguments, string WorkingDirectory, string PathVariable) Build(
        HostPlan plan, string hostsFile, bool sandboxed)
    {
        if (sandboxed)
        {
            var spec = ExecutableSpec(plan, hostsFile);
            var (file, arguments) = Render(spec, null);
            return (file, arguments, plan.HostDirectory, spec.PathVariable);
        }

        var argv = AlgorithmArgv(plan);
        var imageIsDirectory = Directory.Exists(plan.ImagePath);
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
