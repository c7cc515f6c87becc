using Trainyard.Tests.Support;

namespace Trainyard.Tests.Hosts;

/// <summary>A local algorithm's sandbox holds the system directories and the host's own, not the rest of the machine.</summary>
public sealed class SandboxFileSystemTests
{
    [SkippableFact]
    public async Task LocalAlgorithm_SeesTheSystem_NotTheServersHomeRootHomeOrSecrets()
    {
        Skip.If(Trainyard.Hosts.SandboxCommand.Bubblewrap is null, "bubblewrap is not installed (./test.sh installs it)");
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var repository = TrainyardCli.RepositoryRoot;
        var script = $$"""
            #!/usr/bin/python3
            import os, ssl, json
            hidden = ["/root", "/home", "/etc/shadow", "/etc/sudoers", "/etc/ssh", "/etc/munge", {{System.Text.Json.JsonSerializer.Serialize(repository)}}, {{System.Text.Json.JsonSerializer.Serialize(server.Home)}}]
            seen = [p for p in hidden if os.path.exists(p)]
            assert not seen, "visible in the sandbox: %s" % seen
            assert os.path.exists("/usr/bin/python3") and os.path.exists("/etc/passwd")
            ssl.create_default_context()  # the CA store is there
            open(os.path.join(os.environ["SM_MODEL_DIR"], "ok"), "w").write("ok")
            """;
        var name = TestJobs.UniqueName("sandbox-fs");
        await server.CreateAsync(TestJobs.Request(name, TestJobs.Algorithm(dir, script)));
        var end = await server.WaitForEndAsync(name);
        Assert.True(end["TrainingJobStatus"]!.GetValue<string>() == "Completed", end.ToJsonString() + server.LogOf(name));
    }
}
