using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.Interop;
using Trainyard.Storage;

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

    /// <summary>
    /// Runs one throwaway host to its end — a File channel of one object, a sandboxed <c>/bin/sh</c> algorithm
    /// that writes a model file — in a temporary directory, so that the code a real host runs first (plan,
    /// container contract, channel copy, sandbox, log capture, model collection) is loaded and compiled before
    /// the server assigns one. Anything that fails here only leaves the host less warm.
    /// </summary>
    public static async Task WarmUpAsync(bool sandbox)
    {
        var root = Path.Combine(Path.GetTempPath(), $"trainyard-standby-{Environment.ProcessId}");
        try
        {
            var objects = Path.Combine(root, "objects");
            Directory.CreateDirectory(Path.Combine(objects, "warm", "data"));
            await File.WriteAllTextAsync(Path.Combine(objects, "warm", "data", "a.csv"), "1,2\n").ConfigureAwait(false);
            var algorithm = Path.Combine(root, "algorithm");
            Directory.CreateDirectory(algorithm);
            var train = Path.Combine(algorithm, "train");
            await File.WriteAllTextAsync(train, "#!/bin/sh\necho warm\n: > /opt/ml/model/m\n").ConfigureAwait(false);
            File.SetUnixFileMode(train, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var store = new LocalObjectStore(objects);
            var data = new S3Location("warm", "data/a.csv");
            var info = new ObjectInfo(data, 4, DateTimeOffset.UtcNow);
            var plan = new HostPlan
            {
                JobName = "standby-warm-up",
                JobArn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/standby-warm-up",
                Region = "us-east-1",
                HostName = "algo-1",
                Hosts = ["algo-1"],
                HostAddresses = new Dictionary<string, string> { ["algo-1"] = "127.0.0.1" },
                HostDirectory = Path.Combine(root, "job", "hosts", "algo-1"),
                ImagePath = algorithm,
                HyperParameters = new Dictionary<string, string>(),
                Environment = new Dictionary<string, string>(),
                InstanceTypeName = "ml.m5.large",
                Channels = [new ChannelPlan { Name = "train", InputMode = "File", S3DataType = "S3Prefix", S3DistributionType = "FullyReplicated", Objects = [new ChannelObject(info, "a.csv")] }],
                VolumeSizeBytes = 1L << 30,
                TrainingJobConfigJson = "{}",
                LogPath = Path.Combine(root, "job", "logs", "algo-1.log"),
                UseSandbox = sandbox,
                StopGracePeriod = TimeSpan.FromSeconds(1),
                ObjectStoreRoot = objects,
            };
            Directory.CreateDirectory(Path.GetDirectoryName(plan.LogPath)!);
            Directory.CreateDirectory(plan.HostDirectory);
            using var events = new HostEventWriter(plan.EventsPath);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await new HostRuntime(plan, store, events, NullLogger.Instance).RunAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or ObjectStoreException)
        {
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}
