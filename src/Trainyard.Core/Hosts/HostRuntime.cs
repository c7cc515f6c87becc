using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Trainyard.DataPlane;
using Trainyard.DataPlane.Pipe;
using Trainyard.Interop;
using Trainyard.Logs;
using Trainyard.Storage;

namespace Trainyard.Hosts;

/// <summary>
/// Everything that happens on one host: lays out <c>/opt/ml</c>, delivers the channels, runs the
/// algorithm in its sandbox, captures its logs, forwards stop signals with the grace period, and reads
/// what it left behind. Executors only decide where this runs (in the server for the local executor,
/// as a task of a cluster job elsewhere).
/// </summary>
public sealed partial class HostRuntime(HostPlan plan, IObjectStore store, IHostEvents events, ILogger logger)
{
    private LogStreamWriter? _log;

    /// <summary>
    /// Runs the host to its end. Cancelling <paramref name="stop"/> asks the host to stop: before
    /// training it stops at once; during training the algorithm gets SIGTERM, then SIGKILL after the
    /// grace period.
    /// </summary>
    public async Task<HostResult> RunAsync(CancellationToken stop)
    {
        // The host's log stream: every line with the millisecond it arrived (CloudWatch Logs reads it).
        _log = new LogStreamWriter(plan.LogPath);
        try
        {
            return await RunCoreAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while preparing: nothing ran yet.
            return new HostResult { HostName = plan.HostName, Stopped = true };
        }
        finally
        {
            DisposeImage();
            await UnmountFastFileChannelsAsync().ConfigureAwait(false);
            _log.Dispose();
        }
    }

    private async Task<HostResult> RunCoreAsync(CancellationToken stop)
    {
        var sandboxed = plan.UseSandbox && SandboxCommand.Bubblewrap is not null;
        PrepareUserNamespaceEarly(sandboxed);
        var contract = new ContainerContract(plan, sandboxed);
        events.OnPhase(plan.HostName, HostPhase.Preparing);
        contract.Lay();
        var hostsFile = Path.Combine(plan.HostDirectory, "..", plan.HostName + ".hosts");
        await File.WriteAllTextAsync(hostsFile, contract.HostsFile(), stop).ConfigureAwait(false);
        if (!sandboxed)
        {
            Note($"bubblewrap is not available (or disabled): {plan.HostName} runs as a plain process; /opt/ml is {plan.HostDirectory} and the SM_* variables point there.");
        }

        events.OnPhase(plan.HostName, HostPhase.Downloading);
        try
        {
            var mounted = await MountFastFileChannelsAsync(stop).ConfigureAwait(false);
            var loader = new FileChannelLoader(store, plan, (done, total, n, count) => events.OnProgress(plan.HostName, done, total, n, count), Note)
            {
                MountedChannels = mounted,
            };
            await loader.LoadAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return new HostResult { HostName = plan.HostName, Stopped = true };
        }
        catch (DataPlaneException e)
        {
            Note("ClientError: " + e.Message);
            return new HostResult { HostName = plan.HostName, Error = "ClientError: " + e.Message };
        }
        catch (ObjectStoreException e)
        {
            Note("ClientError: " + e.Message);
            return new HostResult { HostName = plan.HostName, Error = "ClientError: " + e.Message };
        }

        if (stop.IsCancellationRequested)
        {
            return new HostResult { HostName = plan.HostName, Stopped = true };
        }

        CheckpointSync? checkpoints = null;
        if (plan.CheckpointS3Uri is { } checkpointUri)
        {
            checkpoints = new CheckpointSync(store, S3Location.Parse(checkpointUri), plan.CheckpointDirectory, Note);
            try
            {
                await checkpoints.RestoreAsync(stop).ConfigureAwait(false);
            }
            catch (Exception e) when (e is ObjectStoreException or DataPlaneException or IOException)
            {
                Note("ClientError: cannot restore the checkpoints: " + e.Message);
                return new HostResult { HostName = plan.HostName, Error = $"ClientError: cannot restore the checkpoints from {checkpointUri}: {e.Message}" };
            }
        }

        if (ContainerImage is { } image && await PrepareImageAsync(image, sandboxed, stop).ConfigureAwait(false) is { } imageFailed)
        {
            return imageFailed;
        }

        using var checkpointing = new CancellationTokenSource();
        var checkpointLoop = checkpoints?.RunAsync(checkpointing.Token) ?? Task.CompletedTask;
        try
        {
            if (ScriptModeInterpreter is { } interpreter && await PrepareScriptModeAsync(interpreter, contract, hostsFile, sandboxed, stop).ConfigureAwait(false) is { } scriptFailed)
            {
                return scriptFailed;
            }

            return await TrainAsync(contract, hostsFile, sandboxed, stop).ConfigureAwait(false);
        }
        finally
        {
            DisposeImage();
            await checkpointing.CancelAsync().ConfigureAwait(false);
            await checkpointLoop.ConfigureAwait(false);
            if (checkpoints is not null)
            {
                await checkpoints.FinalSyncAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<HostResult> TrainAsync(ContainerContract contract, string hostsFile, bool sandboxed, CancellationToken stop)
    {
        string fileName, workingDirectory, path, home = "/root";
        List<string> arguments;
        IReadOnlyList<KeyValuePair<string, string>> imageEnvironment = [];
        int? inheritedNamespace = null;
        if (_image is { } image)
        {
            var spec = ImageSpec(image);
            inheritedNamespace = image.Namespace.InheritableDuplicate();
            (fileName, arguments) = SandboxCommand.Render(spec, inheritedNamespace);
            (workingDirectory, path, home, imageEnvironment) = (plan.HostDirectory, spec.PathVariable, spec.Home, spec.BaseEnvironment);
        }
        else if (_scriptMode is { } script)
        {
            (fileName, arguments, workingDirectory, path) = ScriptModeCommand(script.Argv, hostsFile, sandboxed, venvWritable: false);
        }
        else
        {
            (fileName, arguments, workingDirectory, path) = SandboxCommand.Build(plan, Path.GetFullPath(hostsFile), sandboxed);
        }

        if (CpuPriority.OwnNiceness() is > 0 and var niceness && File.Exists("/usr/bin/nice"))
        {
            // A niced host runtime (cluster tasks) starts its algorithm at normal priority. The algorithm
            // runs in a session of its own (bubblewrap --new-session, or setsid), whose autogroup is not niced.
            arguments = ["-n", (-niceness).ToString(CultureInfo.InvariantCulture), fileName, .. arguments];
            fileName = "/usr/bin/nice";
        }

        var startInfo = StartInfo(fileName, arguments, workingDirectory, imageEnvironment, path, home);
        if (_image is null)
        {
            startInfo.Environment["LANG"] = "C.UTF-8";
        }

        startInfo.Environment["HOSTNAME"] = plan.HostName;
        foreach (var (k, v) in _scriptMode?.Environment ?? contract.Environment())
        {
            startInfo.Environment[k] = v;
        }

        // Beyond SageMaker: on a cluster, the node this host landed on.
        if (Environment.GetEnvironmentVariable("SLURMD_NODENAME") is { Length: > 0 } node)
        {
            startInfo.Environment["TRAINYARD_NODE"] = node;
        }

        // Pipe channels: each serves <channel>_0, _1, … until the algorithm ends. The first FIFO exists
        // before the algorithm starts.
        using var pipesDone = new CancellationTokenSource();
        var pipeFailed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipes = new List<Task>();
        foreach (var channel in plan.Channels.Where(c => c.InputMode == "Pipe"))
        {
            pipes.Add(ServePipeAsync(channel, pipeFailed, pipesDone.Token));
        }

        HostProcess process;
        try
        {
            process = await HostProcess.StartAsync(startInfo, sandboxed, line => Line(line)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            CloseInherited(inheritedNamespace);
            Note($"Cannot start the algorithm ({fileName}): {e.Message}");
            await pipesDone.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pipes).ConfigureAwait(false);
            return new HostResult { HostName = plan.HostName, Error = $"ClientError: cannot start the algorithm of {plan.HostName}: {e.Message}" };
        }

        CloseInherited(inheritedNamespace);
        events.OnPhase(plan.HostName, HostPhase.Training);
        LogStarted(logger, plan.JobName, plan.HostName, process.Pid, sandboxed);
        var stopped = false;
        string? pipeError = null;
        using (stop.Register(() => _ = StopAsync(process)))
        {
            // Bad channel data stops the algorithm (it might wait on a FIFO forever) and fails the host.
            if (await Task.WhenAny(process.Exited, pipeFailed.Task).ConfigureAwait(false) == pipeFailed.Task)
            {
                pipeError = await pipeFailed.Task.ConfigureAwait(false);
                _ = StopAsync(process);
            }

            await process.Exited.ConfigureAwait(false);
            stopped = stop.IsCancellationRequested;
        }

        if (!stopped && await process.Exited.ConfigureAwait(false) == 128 + Libc.SIGTERM)
        {
            // On a cluster a SIGTERM to the step (scancel --signal=TERM, or srun ending the step because
            // another host failed) reaches this runtime and the algorithm at the same moment, and a niced
            // runtime's handler may run only after the algorithm has died of it: that host was stopped.
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                stopped = true;
            }
        }

        await pipesDone.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(pipes).ConfigureAwait(false);
        if (pipeError is null && pipeFailed.Task.IsCompleted)
        {
            pipeError = await pipeFailed.Task.ConfigureAwait(false);
        }

        var status = await process.Exited.ConfigureAwait(false);
        var failurePath = Path.Combine(plan.HostDirectory, "output", "failure");
        string? failure = null;
        if (File.Exists(failurePath))
        {
            failure = (await File.ReadAllTextAsync(failurePath, CancellationToken.None).ConfigureAwait(false)).Trim();
            if (failure.Length == 0)
            {
                failure = null;
            }
        }

        // .NET reports a process killed by a signal as 128 + the signal number.
        var result = status > 128 && status < 160
            ? new HostResult { HostName = plan.HostName, Signal = status - 128, ExitCode = status, FailureText = failure, Stopped = stopped }
            : new HostResult { HostName = plan.HostName, ExitCode = status, FailureText = failure, Stopped = stopped };
        if (pipeError is not null)
        {
            result = result with { Error = "ClientError: " + pipeError, FailureText = null };
        }
        Note(result.Signal is { } sig
            ? $"{plan.HostName}: the algorithm was ended by signal {SignalName(sig)}."
            : $"{plan.HostName}: the algorithm exited with code {status}.");
        events.OnPhase(plan.HostName, HostPhase.Exited);
        return result;
    }

    /// <summary>A process with its output and input redirected and nothing of this process's environment but <paramref name="environment"/>, PATH and HOME.</summary>
    private static ProcessStartInfo StartInfo(
        string fileName, IEnumerable<string> arguments, string workingDirectory, IEnumerable<KeyValuePair<string, string>> environment, string path, string home)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in arguments)
        {
            startInfo.ArgumentList.Add(a);
        }

        startInfo.Environment.Clear();
        foreach (var (k, v) in environment)
        {
            startInfo.Environment[k] = v;
        }

        startInfo.Environment["PATH"] = path;
        startInfo.Environment["HOME"] = home;
        return startInfo;
    }

    private static void CloseInherited(int? fd)
    {
        if (fd is { } n)
        {
            _ = Libc.Close(n);
        }
    }

    private async Task ServePipeAsync(ChannelPlan channel, TaskCompletionSource<string> failed, CancellationToken done)
    {
        var options = new PipeChannelOptions(channel.Name, channel.CompressionType ?? "None", channel.RecordWrapperType, channel.ShuffleSeed,
            channel.S3DataType, channel.AttributeNames);
        try
        {
            await PipeChannel.RunAsync(store, channel.Objects.Select(o => o.Info).ToList(), Path.Combine(plan.HostDirectory, "input", "data"), options, logger, done).ConfigureAwait(false);
        }
        catch (Exception e) when (e is PipeChannelException or ObjectStoreException or IOException or ArgumentException)
        {
            var message = $"Pipe channel '{channel.Name}': {e.Message}";
            Note("ClientError: " + message);
            failed.TrySetResult(message);
        }
    }

    private async Task StopAsync(HostProcess process)
    {
        Note($"{plan.HostName}: sending SIGTERM to the algorithm; it has {plan.StopGracePeriod.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s to save its model.");
        process.Signal(Libc.SIGTERM);
        var exited = await Task.WhenAny(process.Exited, Task.Delay(plan.StopGracePeriod, CancellationToken.None)).ConfigureAwait(false);
        if (exited != process.Exited)
        {
            Note($"{plan.HostName}: the grace period ended; sending SIGKILL.");
            process.Signal(Libc.SIGKILL);
        }
    }

    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        _ => "signal " + signal.ToString(CultureInfo.InvariantCulture),
    };

    private void Line(string line)
    {
        _log?.Write(line);
        events.OnLog(plan.HostName, line);
    }

    /// <summary>A line from Trainyard itself in the host's log stream.</summary>
    /// <summary>A line of Trainyard's own in the host's log, beside the algorithm's.</summary>
    private void Note(string message) => Line("[trainyard] " + message);

    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "Job {Job}: host {Host} started the algorithm (pid {Pid}, sandboxed: {Sandboxed})")]
    private static partial void LogStarted(ILogger logger, string job, string host, int pid, bool sandboxed);
}
