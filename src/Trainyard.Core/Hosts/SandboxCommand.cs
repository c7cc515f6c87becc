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

    /// <summary>The system directories a local algorithm sees (read-only); the rest of the machine is not there.</summary>
    private static readonly string[] SystemDirectories = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys"];

    /// <summary>
    /// What of <c>/etc</c> a local algorithm sees: what programs, the dynamic linker, Python, TLS and name
    /// resolution read — never <c>shadow</c>, <c>sudoers</c>, <c>ssh</c>, <c>munge</c>, Slurm's or Trainyard's own files.
    /// </summary>
    private static readonly string[] EtcAllowList =
    [
        "alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "ssl", "ca-certificates", "ca-certificates.conf",
        "passwd", "group", "nsswitch.conf", "resolv.conf", "host.conf", "gai.conf", "localtime", "timezone",
        "protocols", "services", "mime.types", "os-release", "debian_version", "python3", "python3.11", "python3.12",
        "pip.conf", "xdg", "fonts", "bash.bashrc", "profile", "environment", "magic", "mailcap", "inputrc",
    ];

    /// <summary>
    /// The machine's system directories read-only (<c>/usr</c>, <c>/bin</c>, <c>/lib*</c>, <c>/sys</c>, an
    /// allow-list of <c>/etc</c>), fresh <c>/tmp</c> and <c>/opt</c>, the host directory as <c>/opt/ml</c>: not the
    /// server's home, other jobs, <c>/root</c>, <c>/home</c> or the server's credentials.
    /// </summary>
    private static List<SandboxMount> MachineRootMounts(HostPlan plan)
    {
        var mounts = new List<SandboxMount>();
        foreach (var dir in SystemDirectories)
        {
            var info = new DirectoryInfo(dir);
            if (info.LinkTarget is { } target)
            {
                mounts.Add(new SandboxMount.Symlink(target, dir));
            }
            else if (info.Exists)
            {
                mounts.Add(new SandboxMount.Bind(dir, dir, ReadOnly: true));
            }
        }

        mounts.Add(new SandboxMount.Dir("/etc"));
        foreach (var name in EtcAllowList)
        {
            var path = "/etc/" + name;
            if (File.Exists(path) || Directory.Exists(path))
            {
                mounts.Add(new SandboxMount.Bind(path, path, ReadOnly: true));
            }
        }

        mounts.AddRange(
        [
            new SandboxMount.Dev("/dev"),
            new SandboxMount.Proc("/proc"),
            new SandboxMount.Tmpfs("/tmp"),
            new SandboxMount.Tmpfs("/opt"),
            new SandboxMount.Bind(plan.HostDirectory, "/opt/ml", ReadOnly: false),
        ]);
        return mounts;
    }

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

    /// <summary>True when <paramref name="path"/> is not in a local sandbox unless bound there (outside the system directories).</summary>
    public static bool HiddenInSandbox(string path) =>
        !SystemDirectories.Any(d => path == d || path.StartsWith(d + "/", StringComparison.Ordinal))
        && !EtcAllowList.Any(e => path == "/etc/" + e || path.StartsWith("/etc/" + e + "/", StringComparison.Ordinal));

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
                case SandboxMount.Symlink l:
                    args.AddRange(["--symlink", l.Target, l.Destination]);
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
