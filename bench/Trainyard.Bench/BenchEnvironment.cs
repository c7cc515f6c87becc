using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Trainyard.S3;

namespace Trainyard.Bench;

/// <summary>The S3 server, credentials and external tools the benchmarks run against.</summary>
internal sealed class BenchEnvironment
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private const string ServerDir = "/tmp/trainyard-bench-s3rver";

    private readonly bool _started;

    private BenchEnvironment(Uri endpoint, bool started)
    {
        Endpoint = endpoint;
        _started = started;
    }

    public Uri Endpoint { get; }

    public string EndpointText => Endpoint.ToString().TrimEnd('/');

    public static async Task<BenchEnvironment> StartAsync(BenchOptions options)
    {
        if (options.Endpoint is { } endpoint)
        {
            return new BenchEnvironment(endpoint, started: false);
        }

        var script = Path.Combine(RepoRoot(), ".ci", "s3rver.sh");
        // stdout is the endpoint alone: the first start also installs s3rver, and npm talks on stderr.
        var (code, stdout, stderr) = await RunAsync("bash", $"{script} 4599", new() { ["S3RVER_DIR"] = ServerDir });
        if (code != 0)
        {
            throw new InvalidOperationException("s3rver did not start: " + stderr);
        }

        return new BenchEnvironment(new Uri(stdout.Trim()), started: true);
    }

    /// <summary>
    /// CPU seconds (user + system) the local s3rver has used so far, or null when it is not ours to see
    /// (--endpoint elsewhere). Read around a run, it shows whether the server was the bottleneck.
    /// </summary>
    public static double? ServerCpuSeconds()
    {
        try
        {
            var pid = File.ReadAllText(Path.Combine(ServerDir, "s3rver.pid")).Trim();
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // After "pid (comm) ", utime and stime are fields 12 and 13 (0-based), in clock ticks (100 per second on Linux).
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Stops the s3rver this run started and deletes its data; a server given by --endpoint is left alone.</summary>
    public void Stop()
    {
        if (!_started)
        {
            return;
        }

        var pid = int.Parse(File.ReadAllText(Path.Combine(ServerDir, "s3rver.pid")).Trim(), CultureInfo.InvariantCulture);
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
            process.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
        }

        Directory.Delete(ServerDir, recursive: true);
    }

    public S3ObjectStore CreateStore(Action<S3ObjectStoreOptions>? configure = null)
    {
        var options = new S3ObjectStoreOptions
        {
            ServiceUrl = Endpoint,
            ForcePathStyle = true,
            Credentials = new BasicAWSCredentials(AccessKey, SecretKey),
        };
        // Tuning knobs for exploring, e.g. BENCH_PART_MB=32 BENCH_CONCURRENCY=8.
        if (Environment.GetEnvironmentVariable("BENCH_PART_MB") is { Length: > 0 } part)
        {
            options.PartSize = int.Parse(part, CultureInfo.InvariantCulture) << 20;
        }

        if (Environment.GetEnvironmentVariable("BENCH_CONCURRENCY") is { Length: > 0 } concurrency)
        {
            options.Concurrency = int.Parse(concurrency, CultureInfo.InvariantCulture);
        }

        configure?.Invoke(options);
        return new S3ObjectStore(options);
    }

    /// <summary>Runs a shell command with the S3 credentials in its environment; returns the seconds it took.</summary>
    public static async Task<double> TimeShellAsync(string command, bool unsetCaBundle = false)
    {
        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
            ["AWS_DEFAULT_REGION"] = "us-east-1",
        };
        if (unsetCaBundle)
        {
            env["AWS_CA_BUNDLE"] = null;
        }

        var watch = Stopwatch.StartNew();
        var (code, stdout, stderr) = await RunAsync("bash", "-c", env, command);
        watch.Stop();
        if (code != 0)
        {
            throw new InvalidOperationException($"`{command}` failed ({code}): {stdout}{stderr}");
        }

        return watch.Elapsed.TotalSeconds;
    }

    public static Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, string args, Dictionary<string, string?> env) =>
        RunAsync(file, null, env, args.Split(' '));

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string file, string? flag, Dictionary<string, string?> env, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (flag is not null)
        {
            start.ArgumentList.Add(flag);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env)
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>This process's peak resident memory (VmHWM): the transfers run the server's own code in it.</summary>
    public static string PeakMemory()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) ?? "VmHWM: ?";
        return "peak resident memory of the Trainyard process (" + line.Replace("\t", " ", StringComparison.Ordinal) + ")";
    }

    public static string Format(double seconds, long bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{seconds,7:F2} s {bytes / seconds / (1 << 20),8:F0} MiB/s");

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, ".ci", "s3rver.sh")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find .ci/s3rver.sh");
    }
}
