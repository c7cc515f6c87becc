using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Trainyard.S3;

namespace Trainyard.S3.Tests;

/// <summary>
/// A real S3-compatible server for the tests: s3rver started by <c>.ci/s3rver.sh</c> on a free port (or
/// the one S3RVER_ENDPOINT names, when a script already started it), and helpers to make buckets, stores
/// and run Debian's AWS CLI against it.
/// </summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private int _pid;
    private string? _dataDir;
    private int _buckets;

    public Uri Endpoint { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable("S3RVER_ENDPOINT") is { Length: > 0 } existing)
        {
            Endpoint = new Uri(existing);
            return;
        }

        var port = FreePort();
        _dataDir = Path.Combine(Path.GetTempPath(), $"trainyard-s3rver-test-{port}");
        var script = Path.Combine(RepoRoot(), ".ci", "s3rver.sh");
        var (code, stdout, stderr) = await Run("bash", [script, port.ToString(System.Globalization.CultureInfo.InvariantCulture)], new() { ["S3RVER_DIR"] = _dataDir });
        if (code != 0)
        {
            throw new InvalidOperationException($"{script} failed ({code}): {stderr}");
        }

        _pid = int.Parse(File.ReadAllText(Path.Combine(_dataDir, "s3rver.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Endpoint = new Uri(stdout.Trim());
    }

    public Task DisposeAsync()
    {
        if (_pid != 0)
        {
            try
            {
                using var process = Process.GetProcessById(_pid);
                process.Kill();
                process.WaitForExit(5000);
            }
            catch (ArgumentException)
            {
                // Already gone.
            }

            try
            {
                Directory.Delete(_dataDir!, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>A store pointed at s3rver (or at <paramref name="endpoint"/>), with small parts so tests exercise multipart paths.</summary>
    public S3ObjectStore CreateStore(Action<S3ObjectStoreOptions>? configure = null, Uri? endpoint = null)
    {
        var options = new S3ObjectStoreOptions
        {
            ServiceUrl = endpoint ?? Endpoint,
            ForcePathStyle = true,
            Credentials = new BasicAWSCredentials(AccessKey, SecretKey),
            PartSize = S3ObjectStoreOptions.MinimumPartSize,
            Concurrency = 8,
            RetryBaseDelay = TimeSpan.FromMilliseconds(10),
            RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        };
        configure?.Invoke(options);
        return new S3ObjectStore(options);
    }

    /// <summary>Creates a fresh bucket (through the AWS CLI, independently of the code under test).</summary>
    public async Task<string> NewBucketAsync()
    {
        var name = $"test-{Environment.ProcessId}-{Interlocked.Increment(ref _buckets)}-{Guid.NewGuid().ToString("N")[..8]}";
        await AwsAsync("s3", "mb", $"s3://{name}");
        return name;
    }

    /// <summary>Runs <c>/usr/bin/aws --endpoint-url … args</c> (not the pyenv shim first on PATH) and returns stdout.</summary>
    public async Task<string> AwsAsync(params string[] args)
    {
        var (code, stdout, stderr) = await Run("/usr/bin/aws", ["--endpoint-url", Endpoint.ToString().TrimEnd('/'), .. args], new()
        {
            ["AWS_ACCESS_KEY_ID"] = AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = SecretKey,
            ["AWS_DEFAULT_REGION"] = "us-east-1",
            ["AWS_PAGER"] = "",
        });
        if (code != 0)
        {
            throw new InvalidOperationException($"aws {string.Join(' ', args)} failed ({code}): {stderr}");
        }

        return stdout;
    }

    public static async Task<(int Code, string Stdout, string Stderr)> Run(string file, IEnumerable<string> args, Dictionary<string, string>? env = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in env ?? [])
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, ".ci", "s3rver.sh")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find .ci/s3rver.sh above " + AppContext.BaseDirectory);
    }
}
