using System.Diagnostics;

namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// Unmounts a FastFile mount if the process serving it dies without doing so (SIGKILL, a crash): a
/// shell in a session of its own waits on a pipe whose only writer is this process. The kernel closes
/// the pipe when this process dies, however it dies; the shell then lazily unmounts. A clean
/// shutdown writes "done" first, and the shell leaves without touching anything.
/// </summary>
internal sealed class MountWatchdog
{
    private const string Script = "exec >/dev/null 2>&1; read line; [ \"$line\" = done ] || exec umount -l \"$1\"";
    private readonly Process _process;

    private MountWatchdog(Process process) => _process = process;

    public static MountWatchdog? Start(string mountPoint)
    {
        // setsid -f: the watchdog runs in a session of its own (signals to this process's group, such as
        // Ctrl-C, do not reach it) and is not this process's child (killing this process's tree, as
        // Process.Kill(entireProcessTree) does, does not find it).
        var setsid = File.Exists("/usr/bin/setsid") ? "/usr/bin/setsid" : null;
        var psi = new ProcessStartInfo(setsid ?? "/bin/sh") { RedirectStandardInput = true, UseShellExecute = false };
        if (setsid is not null)
        {
            psi.ArgumentList.Add("-f");
            psi.ArgumentList.Add("/bin/sh");
        }

        foreach (var a in new[] { "-c", Script, "trainyard-fastfile-watchdog", mountPoint })
        {
            psi.ArgumentList.Add(a);
        }

        try
        {
            return new MountWatchdog(Process.Start(psi)!);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            return null;
        }
    }

    public void Dismiss()
    {
        try
        {
            _process.StandardInput.WriteLine("done");
            _process.StandardInput.Close();
            _process.WaitForExit(2000);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            // already gone
        }
        finally
        {
            _process.Dispose();
        }
    }
}
