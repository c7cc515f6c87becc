using System.Diagnostics;
using System.Globalization;
using Trainyard.Api;

namespace Trainyard.Bench;

/// <summary>
/// Container images against their peers, round-robin in one run.
/// <c>image-start REGISTRY_IMAGE [runs=20]</c> (podman: runc, cgroupfs, Debian's <c>runc</c> package): CreateTrainingJob → the algorithm's first instruction
/// for the same Python algorithm as a plain executable (the machine's python3), as the cached image,
/// and as <c>podman run --rm</c> of the same image (already in podman's storage).
/// <c>image-pull REGISTRY_IMAGE [runs=3]</c>: first pull + unpack into an empty cache: trainyard images
/// pull, skopeo copy + umoci unpack, podman pull.
/// </summary>
internal static class ImageBench
{
    private const string Script = "import time; t = time.time(); open('/opt/ml/model/t', 'w').write(repr(t))";

    public static async Task<int> StartAsync(string[] args)
    {
        var image = args[0];
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        var root = Path.Combine("/var/tmp", "trainyard-bench-image-" + Environment.ProcessId);
        Directory.CreateDirectory(root);
        var podman = new[] { "--root", Path.Combine(root, "podman"), "--runroot", Path.Combine(root, "podman-run"), "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--runtime", "runc" };

        // This machine's podman: runc on cgroupfs, and no default ulimits above the host's hard limits.
        var containersConf = Path.Combine(root, "containers.conf");
        File.WriteAllText(containersConf, "[containers]\ndefault_ulimits = []\n");
        Environment.SetEnvironmentVariable("CONTAINERS_CONF", containersConf);
        try
        {
            await using var server = await TrainyardServer.StartAsync(new TrainyardOptions { Home = Path.Combine(root, "home") });
            using var http = new HttpClient { BaseAddress = server.Address };
            var plain = Path.Combine(root, "plain");
            Directory.CreateDirectory(plain);
            File.WriteAllText(Path.Combine(plain, "train"), "#!/usr/bin/python3 -S\n" + Script + "\n");
            File.SetUnixFileMode(Path.Combine(plain, "train"), (UnixFileMode)0b111_101_101);
            Run("podman", [.. podman, "pull", "--quiet", "--tls-verify=false", image]);
            var podmanOut = Path.Combine(root, "podman-out");
            Directory.CreateDirectory(podmanOut);

            var sides = new Dictionary<string, Func<int, Task<double>>>
            {
                ["plain executable"] = i => JobAsync(http, server, plain, null, $"plain-{i}"),
                ["cached image"] = i => JobAsync(http, server, image, ["python3", "-S", "-c", Script], $"image-{i}"),
                ["podman run --rm"] = i => Task.FromResult(PodmanRun(podman, image, podmanOut)),
            };

            // Warm up every side (JIT, the first pull into Trainyard's cache, the page cache).
            foreach (var (_, side) in sides)
            {
                for (var w = 0; w < 2; w++)
                {
                    await side(-1 - w);
                }
            }

            var samples = sides.Keys.ToDictionary(k => k, _ => new List<double>());
            for (var i = 0; i < runs; i++)
            {
                foreach (var (name, side) in sides)
                {
                    samples[name].Add(await side(i));
                }
            }

            foreach (var (name, values) in samples)
            {
                values.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"image-start {name,-18} runs={runs}: median {values[runs / 2],7:F1} ms  p10 {values[runs / 10],7:F1}  p90 {values[runs * 9 / 10],7:F1}  min {values[0],7:F1}  max {values[^1],7:F1}"));
            }
        }
        finally
        {
            Run("podman", [.. podman, "system", "reset", "--force"], check: false);
            Run("rm", ["-rf", root], check: false);
        }

        return 0;
    }

    public static Task<int> PullAsync(string[] args)
    {
        var image = args[0];
        var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        var trainyard = args.Length > 2 ? args[2] : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "trainyard");
        var root = Path.Combine("/var/tmp", "trainyard-bench-pull-" + Environment.ProcessId);
        var samples = new Dictionary<string, List<double>>
        {
            ["trainyard images pull"] = [],
            ["skopeo copy + umoci unpack"] = [],
            ["podman pull"] = [],
        };
        try
        {
            for (var i = 0; i < runs; i++)
            {
                foreach (var name in samples.Keys)
                {
                    var dir = Path.Combine(root, $"{i}-{samples[name].Count}-{name.Split(' ')[0]}");
                    Directory.CreateDirectory(dir);
                    Run("sync", []);
                    File.WriteAllText("/proc/sys/vm/drop_caches", "1");
                    var clock = Stopwatch.StartNew();
                    switch (name)
                    {
                        case "trainyard images pull":
                            Run(trainyard, ["images", "pull", image, "--home", dir]);
                            break;
                        case "skopeo copy + umoci unpack":
                            Run("skopeo", ["copy", "--quiet", "--src-tls-verify=false", "docker://" + image, $"oci:{dir}/layout:bench"]);
                            Run("umoci", ["unpack", "--image", $"{dir}/layout:bench", $"{dir}/bundle"]);
                            break;
                        default:
                            Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--storage-driver", "overlay", "pull", "--quiet", "--tls-verify=false", image]);
                            break;
                    }

                    samples[name].Add(clock.Elapsed.TotalSeconds);
                    if (name == "podman pull")
                    {
                        Run("podman", ["--root", Path.Combine(dir, "storage"), "--runroot", Path.Combine(dir, "run"), "--storage-driver", "overlay", "system", "reset", "--force"], check: false);
                    }

                    Run("rm", ["-rf", dir], check: false);
                }
            }

            foreach (var (name, values) in samples)
            {
                values.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"image-pull {name,-27} runs={runs}: median {values[runs / 2],6:F2} s  min {values[0],6:F2}  max {values[^1],6:F2}  ({string.Join(", ", values.Select(v => v.ToString("F2", CultureInfo.InvariantCulture)))})"));
            }
        }
        finally
        {
            Run("rm", ["-rf", root], check: false);
        }

        return Task.FromResult(0);
    }

    private static async Task<double> JobAsync(HttpClient http, TrainyardServer server, string image, string[]? entrypoint, string name)
    {
        name = name.Replace("--", "-w", StringComparison.Ordinal).TrimStart('-');
        var spec = new System.Text.Json.Nodes.JsonObject { ["TrainingImage"] = image, ["TrainingInputMode"] = "File" };
        if (entrypoint is not null)
        {
            spec["ContainerEntrypoint"] = new System.Text.Json.Nodes.JsonArray(entrypoint.Select(e => (System.Text.Json.Nodes.JsonNode)e).ToArray());
        }

        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["TrainingJobName"] = name,
            ["RoleArn"] = "arn:aws:iam::123456789012:role/r",
            ["AlgorithmSpecification"] = spec,
            ["OutputDataConfig"] = new System.Text.Json.Nodes.JsonObject { ["S3OutputPath"] = "s3://bench/out" },
            ["ResourceConfig"] = new System.Text.Json.Nodes.JsonObject { ["InstanceType"] = "ml.m5.large", ["InstanceCount"] = 1, ["VolumeSizeInGB"] = 1 },
            ["StoppingCondition"] = new System.Text.Json.Nodes.JsonObject { ["MaxRuntimeInSeconds"] = 120 },
        }.ToJsonString();
        var sent = DateTimeOffset.UtcNow;
        using var response = await BenchApi.CallAsync(http, "CreateTrainingJob", body);
        response.EnsureSuccessStatusCode();
        var sw = Stopwatch.StartNew();
        while (server.Store.Get(name) is not { IsTerminal: true } job)
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException($"job {name} did not end");
            }

            await Task.Delay(2);
        }

        var record = server.Store.Get(name)!;
        if (record.Status != Trainyard.Jobs.TrainingJobStatus.Completed)
        {
            throw new InvalidOperationException($"job {name} {record.Status}: {record.FailureReason}");
        }

        return (double.Parse(StartupBench.ReadMarker(server, name), CultureInfo.InvariantCulture) - (sent - DateTimeOffset.UnixEpoch).TotalSeconds) * 1000.0;
    }

    private static double PodmanRun(string[] podman, string image, string output)
    {
        var marker = Path.Combine(output, "t");
        File.Delete(marker);
        var sent = DateTimeOffset.UtcNow;
        Run("podman", [.. podman, "run", "--rm", "--network", "host", "-v", output + ":/opt/ml/model", image, "python3", "-S", "-c", Script]);
        return (double.Parse(File.ReadAllText(marker).Trim(), CultureInfo.InvariantCulture) - (sent - DateTimeOffset.UnixEpoch).TotalSeconds) * 1000.0;
    }

    private static void Run(string file, string[] args, bool check = true)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("AWS_CA_BUNDLE");
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {stderr.Result}");
        }
    }
}
