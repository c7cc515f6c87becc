using System.Diagnostics;
using Trainyard.Persistence;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Cli;

/// <summary>One owner per home: a second server is refused, a `run` goes to the server that holds the home or waits for the `run` that does.</summary>
public sealed class HomeLockTests
{
    [Fact]
    public async Task SecondServerInOneProcess_IsRefused_NamingTheHolder_UntilTheFirstIsDisposed()
    {
        using var home = new TempDirectory("home");
        var first = await TestServer.StartAsync(home: home);
        var refused = await Assert.ThrowsAsync<HomeLockedException>(() => TestServer.StartAsync(home: home));
        Assert.Equal(Environment.ProcessId, refused.Holder!.Pid);
        Assert.Equal("serve", refused.Holder.Owner);
        Assert.Equal(first.Address.ToString().TrimEnd('/'), refused.Holder.Endpoint);
        await first.Server.DisposeAsync();
        await using var second = await TestServer.StartAsync(home: home);
        Assert.Equal(second.Address.ToString().TrimEnd('/'), HomeLock.ReadHolder(home.Path)!.Endpoint);
    }

    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo(TrainyardCli.Executable) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }

    /// <summary>
    /// With `trainyard serve` running a job on a home: a second serve exits at once naming the holder's PID and
    /// endpoint, and leaves the running job alone; `trainyard run` on that home submits its job to the server and
    /// follows it to the end.
    /// </summary>
    [Fact]
    public async Task OnAServedHome_SecondServeIsRefused_RunIsSentToTheServer_TheRunningJobIsUntouched()
    {
        using var home = new TempDirectory("home");
        using var dir = new TempDirectory();
        // The sandbox has a /tmp of its own: the release file goes into the host's config directory, which it sees.
        var release = Path.Combine(home.Path, "jobs", "long-one", "hosts", "algo-1", "input", "config", "release");
        var longAlgo = TestJobs.Algorithm(dir, "#!/bin/sh\necho started\nwhile [ ! -e \"$SM_INPUT_CONFIG_DIR/release\" ]; do sleep 0.05; done\n", "long");
        var quickAlgo = TestJobs.Algorithm(dir, "#!/bin/sh\necho quick job ran\n", "quick");
        var port = ServeProcess.FreePort();
        using var serve = ServeProcess.Start(home.Path, port);
        try
        {
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            var endpoint = new Uri($"http://127.0.0.1:{port}");
            await AwsCli.JsonAsync(endpoint, "sagemaker", "create-training-job", "--cli-input-json", TestJobs.Request("long-one", longAlgo).ToJsonString());
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", "long-one").Result["SecondaryStatus"]!.GetValue<string>() == "Training",
                TimeSpan.FromSeconds(30), "the long job to train");

            var (code, _, stderr) = await TrainyardCli.RunAsync(dir.Path, "serve", "--home", home.Path, "--port", ServeProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.NotEqual(0, code);
            Assert.Contains($"trainyard serve (PID {serve.Id}, serving at {endpoint.ToString().TrimEnd('/')}", stderr, StringComparison.Ordinal);
            Assert.Contains("another --home", stderr, StringComparison.Ordinal);
            var untouched = await AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", "long-one");
            Assert.Equal("Training", untouched["SecondaryStatus"]!.GetValue<string>());

            dir.Write("quick.json", TestJobs.Request("quick-one", quickAlgo).ToJsonString());
            var (runCode, runOut, runErr) = await TrainyardCli.RunAsync(dir.Path, "run", dir["quick.json"], "--home", home.Path, "--name", "quick-one");
            Assert.True(runCode == 0, runErr + runOut);
            Assert.Contains("submitting the job to it", runErr, StringComparison.Ordinal);
            Assert.Contains("quick job ran", runOut + runErr, StringComparison.Ordinal);
            var quick = await AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", "quick-one");
            Assert.Equal("Completed", quick["TrainingJobStatus"]!.GetValue<string>());

            File.WriteAllText(release, "go");
            await Poll.UntilAsync(() => AwsCli.JsonAsync(endpoint, "sagemaker", "describe-training-job", "--training-job-name", "long-one").Result["TrainingJobStatus"]!.GetValue<string>() == "Completed",
                TimeSpan.FromSeconds(30), "the long job to complete");
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }
    }

    /// <summary>A `run` on a home another `run` holds waits, saying so, and runs its job once the first is done.</summary>
    [Fact]
    public async Task RunOnAHomeHeldByAnotherRun_Waits_ThenRuns()
    {
        using var home = new TempDirectory("home");
        using var dir = new TempDirectory();
        var release = Path.Combine(home.Path, "jobs", "first-run", "hosts", "algo-1", "input", "config", "release");
        var longAlgo = TestJobs.Algorithm(dir, "#!/bin/sh\nwhile [ ! -e \"$SM_INPUT_CONFIG_DIR/release\" ]; do sleep 0.05; done\n", "long");
        var quickAlgo = TestJobs.Algorithm(dir, "#!/bin/sh\necho second ran\n", "quick");
        dir.Write("long.json", TestJobs.Request("first-run", longAlgo).ToJsonString());
        dir.Write("quick.json", TestJobs.Request("second-run", quickAlgo).ToJsonString());
        using var first = Start("run", dir["long.json"], "--home", home.Path, "--name", "first-run");
        var firstOut = first.StandardOutput.ReadToEndAsync();
        var firstErr = first.StandardError.ReadToEndAsync();
        await Poll.UntilAsync(() => HomeLock.ReadHolder(home.Path) is { Owner: "run" }, TimeSpan.FromSeconds(30), "the first run to hold the home");
        using var second = Start("run", dir["quick.json"], "--home", home.Path, "--name", "second-run");
        var secondOut = second.StandardOutput.ReadToEndAsync();
        var secondErr = new System.Text.StringBuilder();
        second.ErrorDataReceived += (_, e) =>
        {
            lock (secondErr)
            {
                secondErr.AppendLine(e.Data);
            }
        };
        second.BeginErrorReadLine();
        await Poll.UntilAsync(() =>
        {
            lock (secondErr)
            {
                return secondErr.ToString().Contains("waiting for it to finish", StringComparison.Ordinal);
            }
        }, TimeSpan.FromSeconds(30), "the second run to say it waits");
        Assert.False(second.HasExited);
        await Poll.UntilAsync(() => Directory.Exists(Path.GetDirectoryName(release)), TimeSpan.FromSeconds(30), "the first run's host to start");
        File.WriteAllText(release, "go");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await first.WaitForExitAsync(timeout.Token);
        Assert.True(first.ExitCode == 0, await firstErr + await firstOut);
        await second.WaitForExitAsync(timeout.Token);
        Assert.True(second.ExitCode == 0, secondErr.ToString() + await secondOut);
        Assert.Contains("second ran", await secondOut + secondErr, StringComparison.Ordinal);
    }
}
