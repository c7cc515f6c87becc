using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Trainyard.DataPlane.FastFile;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.DataPlane.FastFile;

/// <summary>FastFile through whole jobs: the algorithm in its sandbox reads the mount; no mount outlives the host, however it ends.</summary>
public sealed class FastFileJobTests
{
    private static JsonObject FastFile(JsonObject channel)
    {
        channel["InputMode"] = "FastFile";
        return channel;
    }

    private static List<string> MountsUnder(string root) =>
        MountInfo.MountPointsOfType("fuse.trainyard").Where(p => p.StartsWith(root, StringComparison.Ordinal)).ToList();

    private static Dictionary<string, byte[]> Seed(TestServer server, int count)
    {
        var rng = new Random(3);
        var data = new Dictionary<string, byte[]>();
        for (var i = 0; i < count; i++)
        {
            var bytes = new byte[rng.Next(1, 3 << 20)];
            rng.NextBytes(bytes);
            var key = i % 2 == 0 ? $"part-{i}.bin" : $"sub/part-{i}.bin";
            server.PutObject("data", "ff/" + key, bytes);
            data[key] = bytes;
        }

        return data;
    }

    [Fact]
    public async Task Job_FastFileShardedOverTwoHosts_EachHostReadsItsShareFromTheMount()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var data = Seed(server, 6);
        var image = TestJobs.Algorithm(dir, """
#!/usr/bin/python3
import hashlib, json, os
config = json.load(open('/opt/ml/input/config/inputdataconfig.json'))
assert config['train']['TrainingInputMode'] == 'FastFile', config
root = '/opt/ml/input/data/train'
mounts = [l.split() for l in open('/proc/self/mountinfo')]
assert any(m[4] == root and 'fuse.trainyard' in m for m in mounts), 'not a FUSE mount inside the sandbox'
host = os.environ['SM_CURRENT_HOST']
with open(f'/opt/ml/model/{host}.txt', 'w') as out:
    for d, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            p = os.path.join(d, f)
            out.write(os.path.relpath(p, root) + ' ' + hashlib.sha256(open(p, 'rb').read()).hexdigest() + '\n')
""");
        var name = TestJobs.UniqueName("ff");
        await server.CreateAsync(TestJobs.Request(name, image, instances: 2, channels: [FastFile(TestJobs.Channel("train", "s3://data/ff/", "ShardedByS3Key"))]));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(90));
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", server.LogOf(name));
        Assert.Contains("is FastFile: 3 objects", server.LogOf(name), StringComparison.Ordinal);
        var entries = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        var seen = new Dictionary<string, string>();
        foreach (var host in new[] { "algo-1", "algo-2" })
        {
            var lines = entries[host + ".txt"].Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length);
            foreach (var line in lines)
            {
                var parts = line.Split(' ');
                Assert.True(seen.TryAdd(parts[0], parts[1]), $"{parts[0]} is on both hosts");
            }
        }

        Assert.Equal(data.Keys.Order(StringComparer.Ordinal), seen.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, bytes) in data)
        {
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), seen[key]);
        }

        Assert.Empty(MountsUnder(server.Home));
    }

    [Theory]
    [InlineData("stop")]
    [InlineData("timeout")]
    [InlineData("failure")]
    public async Task Job_EndsWhileTheAlgorithmHoldsAFile_NoMountIsLeftBehind(string ending)
    {
        await using var server = await TestServer.StartAsync(o => o with { StopGracePeriod = TimeSpan.FromSeconds(1) });
        using var dir = new TempDirectory();
        Seed(server, 2);
        // The algorithm keeps a file of the mount open and ignores SIGTERM, so it must be SIGKILLed.
        var image = TestJobs.Algorithm(dir, $$"""
#!/usr/bin/python3
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
f = open('/opt/ml/input/data/train/part-0.bin', 'rb')
f.read(10)
print('ready', flush=True)
if '{{ending}}' == 'failure':
    sys.exit(5)
while True:
    time.sleep(0.1)
""");
        var name = TestJobs.UniqueName("ffend");
        await server.CreateAsync(TestJobs.Request(name, image, maxRuntime: ending == "timeout" ? 3 : 600, channels: [FastFile(TestJobs.Channel("train", "s3://data/ff/"))]));
        await Poll.UntilAsync(() => server.LogOf(name).Contains("ready", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the algorithm to open a file");
        if (ending == "stop")
        {
            Assert.Single(MountsUnder(server.Home));
            var (status, _) = await server.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = name });
            Assert.Equal(200, status);
        }

        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.Equal(ending == "failure" ? "Failed" : "Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Empty(MountsUnder(server.Home));
    }

    [Theory]
    [InlineData("server")] // SIGKILL to the server alone: the watchdog unmounts
    [InlineData("tree")] // SIGKILL to the server and all its descendants: the watchdog is not one of them
    [InlineData("server-and-watchdog")] // both die (a cgroup killed at once): the next server start unmounts
    public async Task Server_KilledWhileAFastFileJobTrains_NoMountIsLeftAndTheMountPointDoesNotHang(string kill)
    {
        using var home = new TempDirectory("ffkill");
        using var dir = new TempDirectory();
        var data = Path.Combine(home.Path, "objects", "data", "ff");
        Directory.CreateDirectory(data);
        await File.WriteAllBytesAsync(Path.Combine(data, "a.bin"), new byte[123_456]);
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nhead -c 10 /opt/ml/input/data/train/a.bin > /dev/null && echo ready\nwhile :; do sleep 0.1; done\n");
        var port = FreePort();
        var psi = new ProcessStartInfo(TrainyardCli.Executable) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        // Hosts inside the server, so that the mounts' FUSE daemons die with it (with host processes they go
        // on: the next test).
        foreach (var a in new[] { "serve", "--home", home.Path, "--port", port.ToString(CultureInfo.InvariantCulture), "--hosts-in-process" })
        {
            psi.ArgumentList.Add(a);
        }

        using var serve = Process.Start(psi)!;
        _ = serve.StandardOutput.ReadToEndAsync();
        _ = serve.StandardError.ReadToEndAsync();
        try
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            var name = TestJobs.UniqueName("ffkill");
            var request = TestJobs.Request(name, image, channels: [FastFile(TestJobs.Channel("train", "s3://data/ff/"))]);
            await Poll.UntilAsync(() => CanCreate(endpoint, request), TimeSpan.FromSeconds(30), "trainyard serve to accept the job");
            var logs = Path.Combine(home.Path, "jobs", name, "logs");
            await Poll.UntilAsync(() => Directory.Exists(logs) && Directory.GetFiles(logs).Any(f => File.ReadAllText(f).Contains("ready", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "the algorithm to read the mount");
            var mountPoint = Assert.Single(MountsUnder(home.Path));

            var watchdog = WatchdogOf(mountPoint);
            Assert.NotNull(watchdog);
            if (kill == "server-and-watchdog")
            {
                using var w = Process.GetProcessById(watchdog.Value);
                w.Kill();
                await w.WaitForExitAsync();
            }

            serve.Kill(entireProcessTree: kill == "tree"); // SIGKILL: no chance to unmount
            await serve.WaitForExitAsync();

            if (kill == "server-and-watchdog")
            {
                // The mount is left, but dead: the kernel aborted its connection when the server's
                // descriptor closed, so it answers ENOTCONN at once instead of hanging.
                Assert.Single(MountsUnder(home.Path));
                var probe = Task.Run(() => Assert.ThrowsAny<IOException>(() => Directory.EnumerateFileSystemEntries(mountPoint).Count()));
                Assert.True(await Task.WhenAny(probe, Task.Delay(TimeSpan.FromSeconds(5))) == probe, "a dead mount hangs");
                await probe;
                await using var restarted = await TestServer.StartAsync(home: home);
                Assert.Equal("Failed", (await restarted.DescribeAsync(name))["TrainingJobStatus"]!.GetValue<string>());
            }

            await Poll.UntilAsync(() => MountsUnder(home.Path).Count == 0, TimeSpan.FromSeconds(10), "the mount to be removed");
            var listing = Task.Run(() => Directory.EnumerateFileSystemEntries(mountPoint).Count());
            Assert.True(await Task.WhenAny(listing, Task.Delay(TimeSpan.FromSeconds(5))) == listing, "the mount point hangs");
        }
        finally
        {
            if (!serve.HasExited)
            {
                serve.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Server_Killed_FastFileJobOnHostProcesses_KeepsReadingItsMount_TheNextServerFollowsAndStopsIt()
    {
        using var home = new TempDirectory("ffhosts");
        using var dir = new TempDirectory();
        var data = Path.Combine(home.Path, "objects", "data", "ff");
        Directory.CreateDirectory(data);
        await File.WriteAllBytesAsync(Path.Combine(data, "a.bin"), new byte[123_456]);
        // Reads the mount once a second, saying so, until stopped.
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile :; do head -c 10 /opt/ml/input/data/train/a.bin > /dev/null && echo read; sleep 0.2; done\n");
        var name = TestJobs.UniqueName("ffhosts");
        var port = FreePort();
        using (var serve = ServeProcess.Start(home.Path, port, "--stop-grace-seconds", "1"))
        {
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            var request = TestJobs.Request(name, image, channels: [FastFile(TestJobs.Channel("train", "s3://data/ff/"))]);
            await Poll.UntilAsync(() => CanCreate(endpoint, request), TimeSpan.FromSeconds(30), "trainyard serve to accept the job");
            var logs = Path.Combine(home.Path, "jobs", name, "logs");
            await Poll.UntilAsync(() => Directory.Exists(logs) && Directory.GetFiles(logs).Any(f => File.ReadAllText(f).Contains("read", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(30), "the algorithm to read the mount");
            serve.Kill(); // SIGKILL to the server alone
            await serve.WaitForExitAsync();
        }

        // The host process serves the mount: the algorithm goes on reading while no server is there.
        var mountPoint = Assert.Single(MountsUnder(home.Path));
        var log = Assert.Single(Directory.GetFiles(Path.Combine(home.Path, "jobs", name, "logs"), "algo-1-*.log"));
        var reads = File.ReadAllText(log).Split('\n').Count(l => l == "read");
        await Poll.UntilAsync(() => File.ReadAllText(log).Split('\n').Count(l => l == "read") > reads + 2 ? "" : null, TimeSpan.FromSeconds(20), "reads while the server is down");

        await using var restarted = await TestServer.StartAsync(o => o with { HostExecutable = TrainyardCli.Executable, StopGracePeriod = TimeSpan.FromSeconds(1) }, home);
        await restarted.WaitForSecondaryAsync(name, "Training");
        var (status, _) = await restarted.CallAsync("StopTrainingJob", new JsonObject { ["TrainingJobName"] = name });
        Assert.Equal(200, status);
        var job = await restarted.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.Equal("Stopped", job["TrainingJobStatus"]!.GetValue<string>());
        Assert.Empty(MountsUnder(home.Path));
        var listing = Task.Run(() => Directory.Exists(mountPoint) ? Directory.EnumerateFileSystemEntries(mountPoint).Count() : 0);
        Assert.True(await Task.WhenAny(listing, Task.Delay(TimeSpan.FromSeconds(5))) == listing, "the mount point hangs");
    }

    [Fact]
    public async Task Job_FuseUnavailable_ChannelIsDeliveredAsFileModeAndTheLogSaysWhy()
    {
        using var home = new TempDirectory("ffnofuse");
        using var dir = new TempDirectory();
        dir.Write("data/x.csv", "1,2,3\n");
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nset -e\ngrep -q FastFile /opt/ml/input/config/inputdataconfig.json\n! grep -q ' /opt/ml/input/data/train ' /proc/self/mountinfo\ncp /opt/ml/input/data/train/x.csv /opt/ml/model/\n");
        var request = TestJobs.Request("nofuse", image, channels: [FastFile(TestJobs.Channel("train", "file://" + dir["data"]))]);
        var job = dir.Write("job.json", request.ToJsonString());
        var psi = new ProcessStartInfo(TrainyardCli.Executable) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir.Path };
        foreach (var a in new[] { "run", job, "--home", home.Path })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["TRAINYARD_NO_FUSE"] = "1"; // only in that process: other tests mount in parallel
        using var run = Process.Start(psi)!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        var stderr = run.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await run.WaitForExitAsync(cts.Token);
        var output = await stdout + await stderr;
        Assert.True(run.ExitCode == 0, output);
        Assert.Contains("FUSE is not available here (FUSE is disabled (TRAINYARD_NO_FUSE=1).): it is delivered as File mode", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_AugmentedManifestFileWithFastFile_IsAValidationException()
    {
        await using var server = await TestServer.StartAsync();
        server.PutObject("data", "aug/manifest.json", "{\"source-ref\": \"s3://data/aug/x\"}\n");
        var channel = FastFile(TestJobs.Channel("train", "s3://data/aug/manifest.json", type: "AugmentedManifestFile"));
        channel["DataSource"]!["S3DataSource"]!["AttributeNames"] = new JsonArray("source-ref");
        var (status, body) = await server.CallAsync("CreateTrainingJob", TestJobs.Request(TestJobs.UniqueName("aug"), "/bin/true", channels: [channel]));
        Assert.Equal(400, status);
        Assert.Contains("ValidationException", body!["__type"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("AugmentedManifestFile", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    private static int? WatchdogOf(string mountPoint)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var argv = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (argv.Contains("trainyard-fastfile-watchdog") && argv.Contains(mountPoint))
                {
                    return int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
            {
            }
        }

        return null;
    }

    private static bool CanCreate(Uri endpoint, JsonObject request)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = endpoint };
            using var content = new StringContent(request.ToJsonString());
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-amz-json-1.1");
            content.Headers.Add("X-Amz-Target", "SageMaker.CreateTrainingJob");
            using var response = http.PostAsync("/", content).GetAwaiter().GetResult();
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
