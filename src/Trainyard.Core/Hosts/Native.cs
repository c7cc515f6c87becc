using System.Runtime.InteropServices;

namespace Trainyard.Hosts;

/// <summary>The few libc calls process control needs.</summary>
internal static partial class Native
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int kill(int pid, int sig);
}
