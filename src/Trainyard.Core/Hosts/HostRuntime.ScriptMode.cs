using System.Diagnostics;
using System.Globalization;
using Trainyard.Images;
using Trainyard.Interop;
using Trainyard.ScriptMode;
using Trainyard.Storage;

namespace Trainyard.Hosts;

/// <summary>
/// The script-mode part of a host (a SageMaker framework image run on the machine's Python), doing what
/// sagemaker-training-toolkit does inside those images: fetch <c>sagemaker_submit_directory</c> into
/// <c>/opt/ml/code</c>, install <c>requirements.txt</c> (into a virtualenv of the host's own, which sees the
/// interpreter's packages), and run <c>sagemaker_program</c> with the user's hyperparameters as arguments.
/// </summary>
public sealed partial class HostRuntime
{
    private ScriptModeHost? _scriptMode;

    /// <summary>The interpreter this host runs the script on, when it runs in script mode.</summary>
    private string? ScriptModeInterpreter => ResolvedImage.Parse(plan.ImagePath) is ResolvedImage.ScriptMode s ? s.Interpreter : null;

    private sealed record ScriptModeHost(string Python, string? Venv, IReadOnlyList<string> Argv, Dictionary<string, string> Environment);

    private string CodeDirectory => Path.Combine(plan.HostDirectory, "code");

    private string VenvDirectory => Path.Combine(Path.GetDirectoryName(plan.HostDirectory)!, plan.HostName + ".venv");

    /// <summary>Fetches the code, installs its requirements and decides the command; null when the host can train, else how it failed.</summary>
    private async Task<HostResult?> PrepareScriptModeAsync(string interpreter, ContainerContract contract, string hostsFile, bool sandboxed, CancellationToken stop)
    {
        // In SageMaker all of this happens inside the container, while the job is Training.
        events.OnPhase(plan.HostName, HostPhase.Training);
        var clock = Stopwatch.StartNew();
        var hps = ScriptModeHyperParameters.Parse(plan.HyperParameters);
        var program = plan.Environment.TryGetValue("SAGEMAKER_PROGRAM", out var fromEnvironment) && fromEnvironment.Length > 0
            ? fromEnvironment
            : hps.Text(ScriptModeHyperParameters.Program) ?? "";
        var module = program.StartsWith("-m ", StringComparison.Ordinal) ? program[3..].Trim() : null;
        if (program.Length == 0 || (module is null && (program.StartsWith('/') || program.Split('/').Contains(".."))))
        {
            return Fail($"sagemaker_program '{program}' must name a file in /opt/ml/code (the SDK's entry_point, relative to source_dir).");
        }

        if (hps.Text(ScriptModeHyperParameters.SubmitDirectory) is { Length: > 0 } submit && submit.TrimEnd('/') != "/opt/ml/code")
        {
            try
            {
                await FetchSourceAsync(submit, stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return new HostResult { HostName = plan.HostName, Stopped = true };
            }
            catch (SourceArchiveException e)
            {
                return Fail($"the source directory {submit} (sagemaker_submit_directory) cannot be unpacked into /opt/ml/code: {e.Message}.");
            }
            catch (Exception e) when (e is ObjectStoreException or IOException or UnauthorizedAccessException)
            {
                return Fail($"cannot fetch the source directory {submit} (sagemaker_submit_directory): {e.Message}");
            }
        }

        if (module is null && !File.Exists(Path.Combine(CodeDirectory, program)))
        {
            return Fail(hps.Text(ScriptModeHyperParameters.SubmitDirectory) is { Length: > 0 } from
                ? $"sagemaker_program '{program}' is not in the source directory {from}."
                : $"sagemaker_program '{program}' is not in /opt/ml/code, and the job names no sagemaker_submit_directory to fetch it from (the SDK's source_dir).");
        }

        string? venv = null;
        var python = interpreter;
        if (File.Exists(Path.Combine(CodeDirectory, "requirements.txt")))
        {
            venv = VenvDirectory;
            python = Path.Combine(venv, "bin", "python");
            if (await InstallRequirementsAsync(interpreter, contract, hostsFile, sandboxed, stop).ConfigureAwait(false) is { } failed)
            {
                return failed;
            }
        }

        var args = hps.UserArguments();
        List<string> argv;
        if (module is not null)
        {
            argv = [python, "-m", module, .. args];
        }
        else if (program.EndsWith(".py", StringComparison.Ordinal))
        {
            argv = [python, program, .. args];
        }
        else
        {
            // The toolkit makes any other program executable and runs it as ./PROGRAM; a script without "#!" runs with /bin/sh.
            var path = Path.Combine(CodeDirectory, program);
            File.SetUnixFileMode(path, File.GetUnixFileMode(path) | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            argv = StartsWithShebang(path) ? ["./" + program, .. args] : ["/bin/sh", program, .. args];
        }

        _scriptMode = new ScriptModeHost(python, venv, argv, ScriptModeEnvironment.Build(contract, plan, hps, program));
        Note(string.Create(CultureInfo.InvariantCulture,
            $"Script mode: {string.Join(' ', argv)} (in /opt/ml/code, on {interpreter}{(venv is null ? "" : " with the job's virtualenv")}; ready in {clock.Elapsed.TotalSeconds:F2} s)."));
        return null;
    }

    /// <summary>The toolkit's <c>files.download_and_extract</c>: an S3 (or file://) tar.gz, or a local directory.</summary>
    private async Task FetchSourceAsync(string uri, CancellationToken stop)
    {
        if (!S3Location.TryParse(uri, out var location) && !uri.StartsWith('/'))
        {
            throw new SourceArchiveException("it is not an s3:// or file:// URI");
        }

        var local = location.IsFile ? location.Key : uri.StartsWith('/') ? uri : null;
        if (local is not null && Directory.Exists(local))
        {
            CopyDirectory(local, CodeDirectory);
            return;
        }

        var archive = local is not null
            ? new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true)
            : await store.OpenReadAsync(location, 0, null, stop).ConfigureAwait(false);
        await using (archive.ConfigureAwait(false))
        {
            await SourceArchive.ExtractAsync(archive, CodeDirectory, stop).ConfigureAwait(false);
        }
    }

    private static void CopyDirectory(string source, string destination)
    {
        foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            var target = Path.Combine(destination, entry.Name);
            if (entry.LinkTarget is not null)
            {
                throw new SourceArchiveException($"'{entry.FullName}' is a symbolic link; copy the source directory without links");
            }

            if (entry is DirectoryInfo dir)
            {
                Directory.CreateDirectory(target);
                CopyDirectory(dir.FullName, target);
            }
            else if (entry is FileInfo file)
            {
                file.CopyTo(target, overwrite: true);
            }
        }
    }

    private static bool StartsWithShebang(string path)
    {
        Span<byte> head = stackalloc byte[2];
        using var file = File.OpenRead(path);
        return file.Read(head) == 2 && head[0] == '#' && head[1] == '!';
    }

    /// <summary>
    /// <c>python -m venv --system-site-packages</c> and <c>pip install -r requirements.txt</c>, in the host's
    /// sandbox, with the job's and the server's <c>PIP_*</c> settings. The virtualenv is made without pip of
    /// its own (0.1 s instead of 5 s) when the interpreter's pip is importable from it.
    /// </summary>
    private async Task<HostResult?> InstallRequirementsAsync(string interpreter, ContainerContract contract, string hostsFile, bool sandboxed, CancellationToken stop)
    {
        var venv = VenvDirectory;
        if (Directory.Exists(venv))
        {
            Directory.Delete(venv, recursive: true);
        }

        Directory.CreateDirectory(venv);
        var environment = PipEnvironment(contract);
        var python = Path.Combine(venv, "bin", "python");
        string[] install = [python, "-m", "pip", "install", "-r", "requirements.txt"];
        Note($"Installing /opt/ml/code/requirements.txt into the job's virtualenv ({venv}, with the packages of {interpreter}).");
        var (made, _) = await RunSetupAsync([interpreter, "-m", "venv", "--system-site-packages", "--without-pip", venv], environment, hostsFile, sandboxed, stop).ConfigureAwait(false);
        var (status, lines) = made == 0 ? await RunSetupAsync(install, environment, hostsFile, sandboxed, stop).ConfigureAwait(false) : (made, []);
        if (made == 0 && status != 0 && lines.Any(l => l.Contains("No module named pip", StringComparison.Ordinal)))
        {
            Note($"{interpreter} has no pip the virtualenv can use; making the virtualenv with a pip of its own.");
            (made, _) = await RunSetupAsync([interpreter, "-m", "venv", "--system-site-packages", "--clear", venv], environment, hostsFile, sandboxed, stop).ConfigureAwait(false);
            (status, lines) = made == 0 ? await RunSetupAsync(install, environment, hostsFile, sandboxed, stop).ConfigureAwait(false) : (made, []);
        }

        if (stop.IsCancellationRequested)
        {
            return new HostResult { HostName = plan.HostName, Stopped = true };
        }

        if (made == 0)
        {
            SeeInterpretersVirtualenv(interpreter, venv);
        }

        if (made != 0)
        {
            return Fail($"cannot make a virtualenv with {interpreter} -m venv (exit status {made}): install python3-venv, or name another interpreter in images.json.");
        }

        return status == 0 ? null : Fail(PipFailure(lines, environment));
    }

    /// <summary>
    /// A virtualenv made from another virtualenv's Python sees the base interpreter's packages, not that
    /// virtualenv's: a .pth file puts the named virtualenv's site-packages after the job's own.
    /// </summary>
    private static void SeeInterpretersVirtualenv(string interpreter, string venv)
    {
        var prefix = Path.GetDirectoryName(Path.GetDirectoryName(interpreter)!)!;
        if (!File.Exists(Path.Combine(prefix, "pyvenv.cfg")) || !Directory.Exists(Path.Combine(prefix, "lib")))
        {
            return;
        }

        var outer = Directory.GetDirectories(Path.Combine(prefix, "lib"), "python3*").Select(d => Path.Combine(d, "site-packages")).Where(Directory.Exists).ToList();
        foreach (var own in Directory.GetDirectories(Path.Combine(venv, "lib"), "python3*").Select(d => Path.Combine(d, "site-packages")).Where(Directory.Exists))
        {
            File.WriteAllLines(Path.Combine(own, "_trainyard_interpreter.pth"), outer);
        }
    }

    /// <summary>A short FailureReason from pip's output: its ERROR lines, and whether no index could be reached.</summary>
    public static string PipFailure(IReadOnlyList<string> lines, IReadOnlyDictionary<string, string> environment)
    {
        var errors = lines.Where(l => l.StartsWith("ERROR:", StringComparison.Ordinal)).Select(l => l.Trim()).Distinct().ToList();
        var said = errors.Count > 0 ? string.Join(" ", errors) : string.Join(" ", lines.TakeLast(3).Select(l => l.Trim()));
        if (said.Length > 500)
        {
            said = said[..500] + "…";
        }

        var unreachable = lines.Any(l => l.Contains("Failed to establish a new connection", StringComparison.Ordinal)
            || l.Contains("NewConnectionError", StringComparison.Ordinal) || l.Contains("Temporary failure in name resolution", StringComparison.Ordinal)
            || l.Contains("Network is unreachable", StringComparison.Ordinal) || l.Contains("ConnectTimeoutError", StringComparison.Ordinal)
            || l.Contains("ProxyError", StringComparison.Ordinal) || l.Contains("Could not fetch URL", StringComparison.Ordinal));
        var index = environment.TryGetValue("PIP_INDEX_URL", out var url) ? url : "https://pypi.org/simple";
        var hint = unreachable
            ? $" No package index could be reached (PIP_INDEX_URL={index}): set PIP_INDEX_URL to a reachable index, or PIP_FIND_LINKS to a directory of wheels (with PIP_NO_INDEX=1), in the job's Environment or the server's."
            : "";
        return $"pip could not install /opt/ml/code/requirements.txt: {said}{hint}";
    }

    /// <summary>The environment of venv and pip: the host's own, the server's PIP_* and proxy settings under the job's, and quiet defaults.</summary>
    private Dictionary<string, string> PipEnvironment(ContainerContract contract)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            var name = (string)e.Key;
            if (name.StartsWith("PIP_", StringComparison.Ordinal) || name.EndsWith("_proxy", StringComparison.OrdinalIgnoreCase))
            {
                env[name] = (string)e.Value!;
            }
        }

        foreach (var (k, v) in contract.Environment())
        {
            env[k] = v;
        }

        env.TryAdd("PIP_DISABLE_PIP_VERSION_CHECK", "1");
        env.TryAdd("PIP_NO_INPUT", "1");
        env.TryAdd("PIP_NO_CACHE_DIR", "1"); // the sandbox's root (and so ~/.cache) is read-only
        env.TryAdd("PIP_RETRIES", "1"); // an unreachable index fails in seconds, not after pip's 5 retries
        return env;
    }

    /// <summary>Runs one setup command (venv, pip) as the script will run: sandboxed, in /opt/ml/code, its output in the host's log.</summary>
    private async Task<(int Status, List<string> Lines)> RunSetupAsync(IReadOnlyList<string> argv, Dictionary<string, string> environment, string hostsFile, bool sandboxed, CancellationToken stop)
    {
        var (fileName, arguments, workingDirectory, path) = ScriptModeCommand(argv, hostsFile, sandboxed, venvWritable: true, LocalPipSources(environment));
        var startInfo = StartInfo(fileName, arguments, workingDirectory, environment, path, home: "/root");
        startInfo.Environment["LANG"] = "C.UTF-8";
        var lines = new List<string>();
        HostProcess process;
        try
        {
            process = await HostProcess.StartAsync(startInfo, sandboxed, line =>
            {
                lock (lines)
                {
                    lines.Add(line);
                }

                Line(line);
            }).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            Note($"Cannot start {argv[0]}: {e.Message}");
            return (127, [e.Message]);
        }

        using (stop.Register(() => process.Signal(Libc.SIGKILL)))
        {
            var status = await process.Exited.ConfigureAwait(false);
            lock (lines)
            {
                return (status, [.. lines]);
            }
        }
    }

    /// <summary>The command line of a script-mode process: in the sandbox (working directory /opt/ml/code), or a plain process in the host's code directory.</summary>
    private (string FileName, List<string> Arguments, string WorkingDirectory, string PathVariable) ScriptModeCommand(
        IReadOnlyList<string> argv, string hostsFile, bool sandboxed, bool venvWritable, IEnumerable<string>? alsoVisible = null)
    {
        var interpreter = ScriptModeInterpreter!;
        var bins = new List<string>();
        if (Directory.Exists(VenvDirectory))
        {
            bins.Add(Path.Combine(VenvDirectory, "bin"));
        }

        bins.Add(Path.GetDirectoryName(interpreter)!);
        var pathVariable = string.Join(':', bins.Append(SandboxCommand.SystemPath).Distinct(StringComparer.Ordinal));
        if (!sandboxed)
        {
            var (file, arguments) = SandboxCommand.InSession(argv);
            return (file, arguments, CodeDirectory, pathVariable);
        }

        var mounts = new List<SandboxMount>();
        foreach (var prefix in InterpreterPrefixes(interpreter).Where(SandboxCommand.HiddenInSandbox).Distinct(StringComparer.Ordinal))
        {
            mounts.Add(new SandboxMount.Bind(prefix, prefix, ReadOnly: true));
        }

        foreach (var visible in (alsoVisible ?? []).Where(SandboxCommand.HiddenInSandbox).Distinct(StringComparer.Ordinal))
        {
            mounts.Add(new SandboxMount.Bind(visible, visible, ReadOnly: true));
        }

        if (Directory.Exists(VenvDirectory))
        {
            mounts.Add(new SandboxMount.Bind(VenvDirectory, VenvDirectory, ReadOnly: !venvWritable));
        }

        var spec = SandboxCommand.ScriptModeSpec(plan, Path.GetFullPath(hostsFile), argv, mounts, pathVariable);
        var (fileName, args) = SandboxCommand.Render(spec, null);
        return (fileName, args, plan.HostDirectory, pathVariable);
    }

    /// <summary>Local directories pip is told to read (PIP_FIND_LINKS, a file:// PIP_INDEX_URL), which the sandbox must show.</summary>
    private static IEnumerable<string> LocalPipSources(IReadOnlyDictionary<string, string> environment)
    {
        foreach (var name in new[] { "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL" })
        {
            if (!environment.TryGetValue(name, out var value))
            {
                continue;
            }

            foreach (var item in value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var path = item.StartsWith("file://", StringComparison.Ordinal) ? Uri.UnescapeDataString(item[7..]) : item;
                if (path.StartsWith('/') && (Directory.Exists(path) || File.Exists(path)))
                {
                    yield return Path.GetFullPath(path).TrimEnd('/');
                }
            }
        }
    }

    /// <summary>The interpreter's prefix (<c>PREFIX/bin/python</c>), and that of what it links to.</summary>
    private static IEnumerable<string> InterpreterPrefixes(string interpreter)
    {
        yield return Path.GetDirectoryName(Path.GetDirectoryName(interpreter)!) ?? "/";
        var target = new FileInfo(interpreter).ResolveLinkTarget(returnFinalTarget: true);
        if (target is not null)
        {
            yield return Path.GetDirectoryName(Path.GetDirectoryName(target.FullName)!) ?? "/";
        }
    }
}
