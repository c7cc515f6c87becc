using System.Diagnostics;
using System.Globalization;
using Trainyard.Interop;

namespace Trainyard.Hosts;

/// <summary>
/// The algorithm's process on one host. It is started from a thread of its own that lives until the
/// process ends: bubblewrap's <c>--die-with-parent</c> is tied to the thread that forked it, and .NET
/// retires idle pool threads. Signals go to the algorithm's process group (bubblewrap does not forward
/// them): in a sandbox that is bubblewrap's child, which <c>--new-session</c> made a group leader.
/// </summary>
public sealed class HostProcess
{
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<int> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _sandboxed;
    private int _pid;

    private HostProcess(bool sandboxed) => _sandboxed = sandboxed;

    /// <summary>Completes with the exit status: the exit code, or 128 + the signal number.</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>The pid, kept at start: the Process object is disposed as soon as it exits.</summary>
    public int Pid => Volatile.Read(ref _pid);

    /// <summary>Starts the process; <paramref name="onLine"/> receives every stdout and stderr line.</summary>
    public static async Task<HostProcess> StartAsync(ProcessStartInfo startInfo, bool sandboxed, Action<string> onLine)
    {
        var host = new HostProcess(sandboxed);
        var thread = new Thread(() => host.Run(startInfo, onLine))
        {
            IsBackground = true,
            Name = "host " + startInfo.FileName,
        };
        thread.Start();
        await host._started.Task.ConfigureAwait(false);
        return host;
    }

    private void Run(ProcessStartInfo startInfo, Action<string> onLine)
    {
        try
        {
            var process = new Process { StartInfo = startInfo, EnableRaisingEvents = false };
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    onLine(e.Data);
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    onLine(e.Data);
                }
            };
            process.Start();
            Volatile.Write(ref _pid, process.Id);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _started.TrySetResult(process.Id);

            // Waits for exit and for the end of the output streams.
            process.WaitForExit();
            _exited.TrySetResult(process.ExitCode);
            process.Dispose();
        }
        catch (Exception e)
        {
            _started.TrySetException(e);
            _exited.TrySetException(e);
        }
    }

    /// <summary>Sends <paramref name="signal"/> to every process of the algorithm.</summary>
    public void Signal(int signal)
    {
        var pid = Pid;
        if (pid <= 0 || _exited.Task.IsCompleted)
        {
            return;
        }

        var group = _sandboxed ? SandboxChild(pid) : pid;
        if (group > 0)
        {
            _ = Libc.Kill(-group, signal);
            _ = Libc.Kill(group, signal);
        }

        if (signal == Libc.SIGKILL || group <= 0)
        {
            _ = Libc.Kill(pid, signal);
        }
    }

    private static int SandboxChild(int bwrapPid)
    {
        // bubblewrap forks once; its child is the algorithm (a session leader thanks to --new-session).
        for (var attempt = 0; attempt < 100; attempt++)
        {
            try
            {
                var children = File.ReadAllText($"/proc/{bwrapPid}/task/{bwrapPid}/children").Trim();
                if (children.Length > 0)
                {
                    return int.Parse(children.Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
            catch (IOException)
            {
                return 0;
            }

            Thread.Sleep(10);
        }

        return 0;
    }
}
