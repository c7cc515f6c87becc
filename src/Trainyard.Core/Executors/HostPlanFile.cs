using System.Text.Json;
using Trainyard.Hosts;

namespace Trainyard.Executors;

/// <summary>
/// What an executor whose hosts are <c>trainyard host</c> processes (local processes, Slurm tasks) hands
/// them: the job's <c>plan.json</c>, and the executable that reads it.
/// </summary>
public static class HostPlanFile
{
    /// <summary>The plan file of the job <paramref name="hosts"/> belong to.</summary>
    public static string PathOf(IReadOnlyList<HostPlan> hosts) =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(hosts[0].HostDirectory)!)!, "plan.json");

    /// <summary>
    /// Writes the plan and clears an old stop file. The plan carries the hosts' environment — the store's
    /// credentials among it — so only the server's user may read it: created 0600 before a byte is in it,
    /// then renamed into place (a host never reads half a plan).
    /// </summary>
    public static string Write(IReadOnlyList<HostPlan> hosts)
    {
        var plan = PathOf(hosts);
        Directory.CreateDirectory(Path.GetDirectoryName(plan)!);
        var temp = plan + ".tmp";
        File.Delete(temp);
        using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        {
            stream.Write(JsonSerializer.SerializeToUtf8Bytes(hosts.ToList(), HostsJsonContext.Default.ListHostPlan));
        }

        File.Move(temp, plan, overwrite: true);
        var stop = hosts[0].StopPath;
        if (File.Exists(stop))
        {
            File.Delete(stop);
        }

        return plan;
    }

    /// <summary>
    /// The trainyard executable that runs hosts: <paramref name="configured"/>, or the one running this server,
    /// or the one beside its assemblies; null when there is none.
    /// </summary>
    public static string? FindTrainyard(string? configured = null)
    {
        if (configured is not null)
        {
            return configured;
        }

        if (Environment.ProcessPath is { } self && Path.GetFileName(self) == "trainyard")
        {
            return self;
        }

        var beside = Path.Combine(AppContext.BaseDirectory, "trainyard");
        return File.Exists(beside) ? beside : null;
    }
}
