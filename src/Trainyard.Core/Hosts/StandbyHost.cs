using System.Globalization;
using Trainyard.Interop;

namespace Trainyard.Hosts;

/// <summary>
/// A <c>trainyard host --standby</c> process: started ahead of need, with the runtime loaded and warm, it
/// waits on its standard input — a pipe from the server — for one assignment line, <c>PLAN\tHOST\tOUTPUT</c>,
/// then becomes that host exactly as if started with <c>--plan PLAN --host HOST</c> (in its own session,
/// writing to OUTPUT). End of input (the server stopped or died) ends it. So a job's host starts in the
/// time a warm process needs, not a cold one's.
/// </summary>
public static class StandbyHost
{
    /// <summary>The assignment line for <paramref name="planFile"/>'s <paramref name="host"/>.</summary>
    public static string Assignment(string planFile, string host, string output) =>
        string.Create(CultureInfo.InvariantCulture, $"{planFile}\t{host}\t{output}\n");

    /// <summary>Reads the assignment, or null when the server went away first.</summary>
    public static (string PlanFile, string Host)? WaitForAssignment(TextReader input)
    {
        var line = input.ReadLine();
        if (line?.Split('\t') is not [var plan, var host, var output])
        {
            return null;
        }

        // From now on the host's output goes where a host started cold writes it, and its input is nothing.
        var fd = Libc.Open(output, Libc.O_WRONLY | Libc.O_APPEND | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_100_100);
        if (fd >= 0)
        {
            Libc.Dup2(fd, 1);
            Libc.Dup2(fd, 2);
            Libc.Close(fd);
        }

        var devNull = Libc.Open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (devNull >= 0)
        {
            Libc.Dup2(devNull, 0);
            Libc.Close(devNull);
        }

        return (plan, host);
    }
}
