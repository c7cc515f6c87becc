using System.Runtime.InteropServices;

namespace Trainyard.Interop;

/// <summary>Processes and identity: kill(2), geteuid, getegid.</summary>
internal static partial class Libc
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid", SetLastError = true)]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getegid", SetLastError = true)]
    public static partial uint GetEgid();
}
