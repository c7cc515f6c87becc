using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trainyard.Executors;
using Trainyard.Slurm;

namespace Trainyard.Tests.Support;

/// <summary>The real Slurm cluster that ./test.sh starts (.ci/setup-slurm.sh): four nodes on this machine.</summary>
public static class SlurmCluster
{
    public static void Require()
    {
        var psi = new ProcessStartInfo("sinfo", "-h -o %D") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        try
        {
            using var p = Process.Start(psi)!;
            p.WaitForExit(10_000);
            if (p.ExitCode == 0)
            {
                return;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }

        Assert.Fail("No Slurm cluster answers: run ./test.sh, which installs and starts one (.ci/setup-slurm.sh).");
    }

    public static IReadOnlyDictionary<string, Func<IServiceProvider, IExecutor>> Executors(SlurmOptions? options = null) =>
        new Dictionary<string, Func<IServiceProvider, IExecutor>>
        {
            ["slurm"] = sp => new SlurmExecutor(options ?? new SlurmOptions { PollInterval = TimeSpan.FromMilliseconds(200) }, sp.GetRequiredService<ILogger<SlurmExecutor>>()),
        };

    public static Task<TestServer> StartServerAsync(TempDirectory? home = null, TimeSpan? grace = null) =>
        TestServer.StartAsync(o => o with { Executor = "slurm", StopGracePeriod = grace ?? TimeSpan.FromSeconds(3) }, home, Executors());
}
