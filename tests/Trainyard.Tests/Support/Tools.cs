using System.Diagnostics;

namespace Trainyard.Tests.Support;

/// <summary>External programs the tests drive; ./test.sh installs them.</summary>
public static class Tools
{
    /// <summary>Fails (not skips) when a tool that ./test.sh installs is missing.</summary>
    public static void Require(string command, string debianPackage)
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/sbin").Append("/usr/bin")
            .Any(d => File.Exists(Path.Combine(d, command)));
        Assert.True(found, $"{command} is not installed: ./test.sh installs it (apt-get install {debianPackage}).");
    }

    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string command, params string[] args)
    {
        var psi = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("AWS_CA_BUNDLE");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
