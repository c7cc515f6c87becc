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

        // The holder's PID, for a server that finds the host without having started it (a standby host).
        var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        Libc.Ftruncate(fd, 0);
        Libc.Pwrite(fd, pid, pid.Length, 0);
        return new HostLock(fd);
    }

    /// <summary>The PID the host wrote into its lock file, if the lock is held now.</summary>
    public static int? Holder(HostPlan plan) => Holder(PathOf(plan));

    /// <summary>The PID of the process holding the lock file <paramref name="lockPath"/>; null when nobody holds it.</summary>
    public static unsafe int? Holder(string lockPath)
    {
        var fd = Libc.Open(lockPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            if (Libc.Flock(fd, Libc.LOCK_SH | Libc.LOCK_NB) == 0)
            {
                Libc.Flock(fd, Libc.LOCK_UN);
                return null;
            }

            // Read through this descriptor: .NET's File APIs take a shared flock of their own and fail on a
            // file whose holder has it exclusively.
            var buffer = stackalloc byte[32];
            var n = Libc.PRead(fd, buffer, 32, 0);
            return n > 0 && int.TryParse(new ReadOnlySpan<byte>(buffer, (int)n).Trim((byte)'\n'), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        finally
        {
            Libc.Close(fd);
        }
    }

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

        return IsHostProcess(pid, planFile, plan);
    }

    /// <summary>Whether <paramref name="pid"/> runs <paramref name="plan"/>'s host: <c>trainyard host --plan <paramref name="planFile"/> --host algo-N</c>, or a standby host whose lock file names it (not a reused PID).</summary>
    public static bool IsHostProcess(int pid, string planFile, HostPlan plan)
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
        if (!args.Contains("host"))
        {
            return false;
        }

        // A standby host was started before its plan existed: its lock file names it.
        return (args.Contains(planFile) && args.Contains(plan.HostName))
            || (args.Contains("--standby") && Holder(plan) == pid);
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
