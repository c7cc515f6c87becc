using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Trainyard.Tests.Support;

/// <summary>
/// A real registry on loopback: Debian's docker-registry (the CNCF distribution registry), optionally
/// with htpasswd basic auth. Images are pushed into it with skopeo.
/// </summary>
public sealed class DockerRegistry : IAsyncDisposable
{
    public const string User = "trainer";
    public const string Password = "s3cret-pass";

    private readonly Process _process;
    private readonly TempDirectory _dir;

    private DockerRegistry(Process process, TempDirectory dir, string address, bool auth)
    {
        _process = process;
        _dir = dir;
        Address = address;
        RequiresAuth = auth;
    }

    /// <summary>host:port.</summary>
    public string Address { get; }

    public bool RequiresAuth { get; }

    /// <summary>The registry's storage: blobs live under docker/registry/v2/blobs/sha256/xx/HEX/data.</summary>
    public string Storage => _dir["data"];

    public static async Task<DockerRegistry> StartAsync(bool auth)
    {
        Tools.Require("docker-registry", "docker-registry");
        Tools.Require("skopeo", "skopeo");
        var dir = new TempDirectory("registry");
        var port = FreePort();
        var config = $"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {dir["data"]}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n";
        if (auth)
        {
            Tools.Require("htpasswd", "apache2-utils");
            var (code, stdout, stderr) = await Tools.RunAsync("htpasswd", "-Bbn", User, Password);
            Assert.True(code == 0, stderr);
            File.WriteAllText(dir["htpasswd"], stdout);
            config += $"auth:\n  htpasswd:\n    realm: trainyard-tests\n    path: {dir["htpasswd"]}\n";
        }

        File.WriteAllText(dir["config.yml"], config);
        var psi = new ProcessStartInfo("docker-registry") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("serve");
        psi.ArgumentList.Add(dir["config.yml"]);
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var registry = new DockerRegistry(process, dir, $"127.0.0.1:{port}", auth);
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                var r = await http.GetAsync($"http://{registry.Address}/v2/");
                if (r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
                Assert.False(process.HasExited, "docker-registry exited at start");
            }

            Assert.True(DateTime.UtcNow < deadline, "docker-registry did not answer within 30 s");
            await Task.Delay(50);
        }

        return registry;
    }

    /// <summary>Pushes the layout's <paramref name="tag"/> as NAME:TAG (all platforms of an index).</summary>
    /// <param name="format">skopeo's <c>--format</c>: <c>v2s2</c> converts to Docker's manifest and layer media types.</param>
    public async Task<string> PushAsync(string layout, string tag, string name, string? pushTag = null, string? format = null)
    {
        var reference = $"{Address}/{name}:{pushTag ?? tag}";
        var args = new List<string> { "copy", "--quiet", "--all", "--dest-tls-verify=false" };
        if (format is not null)
        {
            args.Add("--format=" + format);
        }

        if (RequiresAuth)
        {
            args.Add($"--dest-creds={User}:{Password}");
        }

        args.AddRange([$"oci:{layout}:{tag}", "docker://" + reference]);
        var (code, _, stderr) = await Tools.RunAsync("skopeo", [.. args]);
        Assert.True(code == 0, "skopeo copy failed: " + stderr);
        return reference;
    }

    /// <summary>The file that holds a blob in the registry's storage.</summary>
    public string BlobFile(string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        _dir.Dispose();
    }
}
