using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Trainyard.Tests.Support;

/// <summary>`trainyard serve` as a process of its own, for tests that kill the server.</summary>
public static class ServeProcess
{
    public static Process Start(string home, int port, params string[] extra) => StartIn(null, home, port, extra);

    /// <summary>Starts it with <paramref name="workingDirectory"/> as its current directory (null: this process's).</summary>
    public static Process StartIn(string? workingDirectory, string home, int port, params string[] extra)
    {
        var psi = new ProcessStartInfo(TrainyardCli.Executable) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var a in new[] { "serve", "--home", home, "--port", port.ToString(CultureInfo.InvariantCulture) }.Concat(extra))
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public static bool CanConnect(int port)
    {
        try
        {
            using var c = new TcpClient();
            c.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
