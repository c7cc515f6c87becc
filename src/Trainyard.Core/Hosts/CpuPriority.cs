using System.Globalization;

namespace Trainyard.Hosts;

/// <summary>
/// A process's CPU priority as Linux really applies it. With autogroups on (<c>sched_autogroup_enabled</c>,
/// the default of most distributions when processes are not in a cpu cgroup), the scheduler first shares
/// the CPU between sessions and only then between the processes of a session, so a process's own nice
/// value only ranks it against its session. Slurm starts every step (the batch script, each task) in a
/// session of its own, so a <c>nice -n 10</c> task still weighs as much as the whole Trainyard server; the
/// session's autogroup has to be niced as well (<c>/proc/self/autogroup</c>).
/// </summary>
public static class CpuPriority
{
    private const string AutogroupPath = "/proc/self/autogroup";

    /// <summary>This process's nice value (field 19 of /proc/self/stat), or 0.</summary>
    public static int OwnNiceness()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.Parse(fields[16], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    /// <summary>The nice value of this process's session (its autogroup), or null where the kernel has no autogroups.</summary>
    public static int? AutogroupNiceness()
    {
        try
        {
            // "/autogroup-123 nice 10"
            var text = File.ReadAllText(AutogroupPath).Trim();
            var at = text.LastIndexOf(' ');
            return at > 0 && int.TryParse(text[(at + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var nice) ? nice : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Lowers this process's session (its autogroup) to <paramref name="niceness"/> when it runs at a higher
    /// priority, so that the session weighs what its processes' nice value says. Unprivileged processes may
    /// change an autogroup only once per 100 ms machine-wide (EAGAIN otherwise: many tasks start at once), so
    /// a refused write is retried until <paramref name="patience"/> runs out. Returns whether the session now
    /// runs at <paramref name="niceness"/> or lower (true where there are no autogroups).
    /// </summary>
    public static async Task<bool> LowerSessionAsync(int niceness, TimeSpan patience, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            if (AutogroupNiceness() is not { } current || current >= niceness)
            {
                return true;
            }

            try
            {
                using var file = new FileStream(AutogroupPath, FileMode.Open, FileAccess.Write);
                file.Write(System.Text.Encoding.ASCII.GetBytes(niceness.ToString(CultureInfo.InvariantCulture)));
                return true;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
            catch (IOException)
            {
                // EAGAIN: another session changed its autogroup less than 100 ms ago.
            }

            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(100)), cancellationToken).ConfigureAwait(false);
        }
    }
}
