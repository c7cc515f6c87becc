using System.Globalization;
using Trainyard.Interop;

namespace Trainyard.Hosts;

/// <summary>
/// A host process's sign of life: while it runs, <c>trainyard host</c> holds an exclusive <c>flock</c> on
/// <c>hosts/algo-N.lock</c> beside its events file. The kernel drops the lock when the process dies, however
/// it dies, so a server that restarts can tell a host that is still running from one that vanished while
/// nobody was watching. The descriptor is close-on-exec: the algorithm never holds it.
/// </summary>
public sealed class HostLock : IDisposable
{
    private int _fd;

    private HostLock(int fd) => _fd = fd;

    /// <summary>The lock file of <paramref name="plan"/>'s host.</summary>
    public static string PathOf(HostPlan plan) => Path.Combine(Path.GetDirectoryName(plan.EventsPath)!, plan.HostName + ".lock");

    /// <summary>Takes the host's lock, waiting for a moment's probe by a server to end; null where the file system has no locks.</summary>
    public static HostLock? Acquire(HostPlan plan)
    {
        var path = PathOf(plan);
        var fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_000_000);
        if (fd < 0)
        {
            return null;
        }

        int r;
        do
        {
            r = Libc.Flock(fd, Libc.LOCK_EX);
        }
        while (r < 0 && Libc.LastError == Libc.EINTR);

        if (r < 0)
        {
            Libc.Close(fd);
            return null;
        }

        return new HostLock(fd);
    }

    /// <summary>
    /// Whether the host of <paramref name="plan"/> is alive: its lock is held, or — in the moment between its
    /// start and taking the lock — process <paramref name="pid"/> is still a <c>trainyard host</c> of this plan.
    /// </summary>
    public static bool IsAlive(HostPlan plan, string planFile, int pid)
    {
        var fd = Libc.Open(PathOf(plan), Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd >= 0)
        {
            try
            {
                if (Libc.Flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) != 0)
                {
                    return Libc.LastError is Libc.EAGAIN or Libc.EINTR;
                }

                Libc.Flock(fd, Libc.LOCK_UN);
            }
            finally
            {
                Libc.Close(fd);
            }
        }

        return IsHostProcess(pid, planFile, plan.HostName);
    }

    /// <summary>Whether <paramref name="pid"/> runs <c>trainyard host --plan <paramref name="planFile"/> --host <paramref name="host"/></c> (not a reused PID).</summary>
    public static bool IsHostProcess(int pid, string planFile, string host)
    {
        string cmdline;
        try
        {
            cmdline = File.ReadAllText(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/cmdline"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        var args = cmdline.Split('\0');
        return args.Contains("host") && args.Contains(planFile) && args.Contains(host);
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }
}
