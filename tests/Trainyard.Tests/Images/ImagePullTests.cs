using System.Formats.Tar;
using Trainyard.Images;
using Trainyard.Images.Cache;
using Trainyard.Images.Registry;
using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.OciLayoutBuilder;

namespace Trainyard.Tests.Images;

/// <summary>Pulls from a real registry (docker-registry) into a real cache.</summary>
[Collection("registry")]
public sealed class ImagePullTests(RegistryFixture registries)
{
    private static readonly RegistryOptions Registry = new();

    private static async Task<(OciLayoutBuilder Layout, string Tag)> BusyboxLayoutAsync(TempDirectory dir, string tag = "1")
    {
        var layout = new OciLayoutBuilder(dir["layout"]);
        var base_ = layout.AddLayer(w => Busybox(w));
        var top = layout.AddLayer(w =>
        {
            Dir(w, "etc");
            Text(w, "etc/.wh.group", "");
            Text(w, "etc/motd", "hello from the top layer\n");
        });
        layout.Tag(layout.AddImage([base_, top], entrypoint: ["/bin/sh", "-c", "exec \"$@\"", "sh"], cmd: ["serve"]), tag);
        await Task.CompletedTask;
        return (layout, tag);
    }

    [Fact]
    public async Task Pull_FromRegistry_UnpacksEachLayerOnceAndRecordsTheTag()
    {
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var reference = await registries.Open.PushAsync(layout.Directory, tag, "pull/busybox");
        var cache = new ImageCache(dir["cache"]);
        var lines = new List<string>();
        var image = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), refresh: false, lines.Add, null, default);

        Assert.Equal(2, image.Layers.Count);
        Assert.All(cache.LayerRoots(image), d => Assert.True(Directory.Exists(d)));
        Assert.True(File.Exists(Path.Combine(cache.LayerRoots(image)[0], "bin", "busybox")));
        Assert.Contains(lines, l => l.StartsWith("Pulled " + reference, StringComparison.Ordinal));
        Assert.Equal(image.ManifestDigest, cache.GetRef("docker://" + reference)!.ManifestDigest);
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache.TempDirectory));

        // Cached: no second download.
        lines.Clear();
        var again = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), refresh: false, lines.Add, null, default);
        Assert.Equal(image.ManifestDigest, again.ManifestDigest);
        Assert.Empty(lines);
    }

    [Fact]
    public async Task Pull_ConcurrentPullsOfOneImage_DownloadOnce()
    {
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var reference = await registries.Open.PushAsync(layout.Directory, tag, "pull/concurrent");
        var cache = new ImageCache(dir["cache"]);
        var lines = new System.Collections.Concurrent.ConcurrentBag<string>();
        var pulls = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
            new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), refresh: false, lines.Add, null, default))).ToList();
        var images = await Task.WhenAll(pulls);

        Assert.Single(images.Select(i => i.ManifestDigest).Distinct());
        Assert.Single(lines, l => l.StartsWith("Pulled ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_MultiArchIndex_PicksThisMachinesPlatform_AndNamesThoseOfferedWhenMissing()
    {
        using var dir = new TempDirectory("pull");
        var layout = new OciLayoutBuilder(dir["layout"]);
        var amd = layout.AddImage([layout.AddLayer(w => Text(w, "arch", "amd64"))], architecture: "amd64");
        var arm = layout.AddImage([layout.AddLayer(w => Text(w, "arch", "arm64"))], architecture: "arm64");
        var ppc = layout.AddImage([layout.AddLayer(w => Text(w, "arch", "ppc64le"))], architecture: "ppc64le");
        layout.Tag(layout.AddIndex(amd, arm), "multi").Tag(layout.AddIndex(arm, ppc), "foreign");
        var multi = await registries.Open.PushAsync(layout.Directory, "multi", "pull/multi");
        var foreign = await registries.Open.PushAsync(layout.Directory, "foreign", "pull/multi");
        var cache = new ImageCache(dir["cache"]);

        var image = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(multi), false, null, null, default);
        Assert.Equal(Platforms.Architecture, File.ReadAllText(Path.Combine(cache.LayerRoots(image)[0], "arch")));
        var e = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(foreign), false, null, null, default));
        Assert.Contains($"no image for linux/{Platforms.Architecture}", e.Message, StringComparison.Ordinal);
        Assert.Contains("linux/arm64", e.Message, StringComparison.Ordinal);
        Assert.Contains("linux/ppc64le", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_TamperedBlob_FailsWithDigestMismatch_LeavesNothing_AndPullsCleanlyAfterwards()
    {
        using var dir = new TempDirectory("pull");
        var layout = new OciLayoutBuilder(dir["layout"]);
        var content = new string('x', 100_000);
        var layer = layout.AddLayer(w => Text(w, "data", content));
        layout.Tag(layout.AddImage([layer]), "1");
        var reference = await registries.Open.PushAsync(layout.Directory, "1", "pull/tampered");

        // The same tar compressed differently: it unpacks to the right content, but it is not the blob the manifest names.
        var blob = registries.Open.BlobFile(layer.Digest);
        var original = await File.ReadAllBytesAsync(blob);
        using (var raw = new MemoryStream())
        {
            using (var unzip = new System.IO.Compression.GZipStream(new MemoryStream(original), System.IO.Compression.CompressionMode.Decompress))
            {
                await unzip.CopyToAsync(raw);
            }

            using var recompressed = new MemoryStream();
            using (var z = new System.IO.Compression.GZipStream(recompressed, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
            {
                z.Write(raw.ToArray());
            }

            await File.WriteAllBytesAsync(blob, recompressed.ToArray());
        }

        var cache = new ImageCache(dir["cache"]);
        var e = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default));
        Assert.Contains("digest mismatch", e.Message, StringComparison.Ordinal);
        Assert.Contains(layer.Digest, e.Message, StringComparison.Ordinal);
        Assert.False(cache.HasLayer(layer.DiffId));
        Assert.Null(cache.GetRef("docker://" + reference));
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache.TempDirectory));

        await File.WriteAllBytesAsync(blob, original);
        var image = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default);
        Assert.Equal(content, File.ReadAllText(Path.Combine(cache.LayerRoots(image)[0], "data")));
    }

    [Fact]
    public async Task Pull_ZstdOrForeignLayers_AreRefusedByName()
    {
        using var dir = new TempDirectory("pull");
        var layout = new OciLayoutBuilder(dir["layout"]);
        layout.Tag(layout.AddImage([layout.AddLayer(w => Text(w, "a", "a"), mediaType: "application/vnd.oci.image.layer.v1.tar+zstd")]), "zstd");
        var reference = await registries.Open.PushAsync(layout.Directory, "zstd", "pull/zstd");
        var e = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(new ImageCache(dir["cache"]), Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default));
        Assert.Contains("zstd", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_EscapingLayer_IsRefusedNamingIt_AndNothingIsCached()
    {
        using var dir = new TempDirectory("pull");
        var layout = new OciLayoutBuilder(dir["layout"]);
        var evil = layout.AddLayer(w =>
        {
            Text(w, "fine", "ok");
            Text(w, "../../../tmp/trainyard-escape", "evil");
        });
        layout.Tag(layout.AddImage([evil]), "evil");
        var reference = await registries.Open.PushAsync(layout.Directory, "evil", "pull/evil");
        var cache = new ImageCache(dir["cache"]);
        var e = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default));
        Assert.Contains($"layer {evil.Digest} is refused", e.Message, StringComparison.Ordinal);
        Assert.False(cache.HasLayer(evil.DiffId));
        Assert.Empty(Directory.EnumerateFileSystemEntries(cache.TempDirectory));
    }

    [Fact]
    public async Task Pull_BasicAuthRegistry_NeedsCredentials_RefusesWrongOnes_AcceptsTheAuthFile()
    {
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var reference = await registries.WithAuth.PushAsync(layout.Directory, tag, "private/busybox");
        var location = ImageLocation.Parse(reference);
        var previous = Environment.GetEnvironmentVariable("REGISTRY_AUTH_FILE");
        try
        {
            Environment.SetEnvironmentVariable("REGISTRY_AUTH_FILE", dir["missing-auth.json"]);
            var none = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(new ImageCache(dir["cache"]), Registry).PullAsync(location, false, null, null, default));
            Assert.Contains("requires credentials", none.Message, StringComparison.Ordinal);

            WriteAuth(dir["wrong.json"], registries.WithAuth.Address, DockerRegistry.User, "not-the-password");
            Environment.SetEnvironmentVariable("REGISTRY_AUTH_FILE", dir["wrong.json"]);
            var wrong = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(new ImageCache(dir["cache"]), Registry).PullAsync(location, false, null, null, default));
            Assert.Contains("refused the credentials", wrong.Message, StringComparison.Ordinal);

            WriteAuth(dir["right.json"], registries.WithAuth.Address, DockerRegistry.User, DockerRegistry.Password);
            Environment.SetEnvironmentVariable("REGISTRY_AUTH_FILE", dir["right.json"]);
            var image = await new ImagePuller(new ImageCache(dir["cache"]), Registry).PullAsync(location, false, null, null, default);
            Assert.Equal(2, image.Layers.Count);
        }
        finally
        {
            Environment.SetEnvironmentVariable("REGISTRY_AUTH_FILE", previous);
        }
    }

    [SkippableFact]
    public async Task Pull_DiskFullWhileUnpacking_FailsNamingTheCache_LeavesNothing_AndTheNextPullIsClean()
    {
        Skip.IfNot(Environment.UserName == "root", "mounting a small tmpfs for the cache needs root");
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var reference = await registries.Open.PushAsync(layout.Directory, tag, "pull/full");
        var cacheDir = dir["cache"];
        Directory.CreateDirectory(cacheDir);
        // Busybox alone is 2 MB: a 1 MiB file system fills up in the middle of the layer.
        var (code, _, stderr) = await Tools.RunAsync("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", cacheDir);
        Assert.True(code == 0, stderr);
        try
        {
            var cache = new ImageCache(cacheDir);
            var full = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default));
            Assert.Contains($"the disk holding the image cache ({cacheDir}) is full", full.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(cache.TempDirectory));
            Assert.Null(cache.GetRef("docker://" + reference));
            Assert.False(Directory.Exists(cache.LayersDirectory) && Directory.EnumerateFileSystemEntries(cache.LayersDirectory).Any(d => File.Exists(Path.Combine(d, "root", "bin", "busybox"))));

            (code, _, stderr) = await Tools.RunAsync("mount", "-o", "remount,size=64m", cacheDir);
            Assert.True(code == 0, stderr);
            var image = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default);
            Assert.Equal(2, image.Layers.Count);
            Assert.True(File.Exists(Path.Combine(cache.LayerRoots(image)[0], "bin", "busybox")));
        }
        finally
        {
            await Tools.RunAsync("umount", "-l", cacheDir);
        }
    }

    [Fact]
    public async Task Pull_RegistryThatAcceptsButNeverAnswers_FailsAfterTheResponseTimeout()
    {
        using var dir = new TempDirectory("pull");
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var accepted = new List<System.Net.Sockets.Socket>();
        var accepting = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    accepted.Add(await silent.AcceptSocketAsync());
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        });
        var address = "127.0.0.1:" + ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var options = Registry with { ResponseTimeout = TimeSpan.FromSeconds(1) };
        var e = await Assert.ThrowsAsync<ImagePullException>(() => new ImagePuller(new ImageCache(dir["cache"]), options).PullAsync(ImageLocation.Parse(address + "/stalled/image:1"), false, null, null, default));
        Assert.Contains($"the registry {address} did not answer within 1 s", e.Message, StringComparison.Ordinal);
        silent.Stop();
        await accepting;
        accepted.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task Pull_RegistryWithBearerTokenAuth_FollowsTheChallengeAndReusesTheToken()
    {
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var upstream = await registries.Open.PushAsync(layout.Directory, tag, "pull/bearer");
        using var proxy = new BearerTokenProxy(registries.Open.Address);
        var reference = proxy.Address + "/pull/bearer:" + tag;
        var cache = new ImageCache(dir["cache"]);
        var image = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default);

        Assert.Equal(2, image.Layers.Count);
        Assert.True(File.Exists(Path.Combine(cache.LayerRoots(image)[0], "bin", "busybox")));
        Assert.Equal(1, proxy.TokensIssued); // one token for the manifest, the config and both layers
        Assert.Equal(["repository:pull/bearer:pull"], proxy.Scopes);
        Assert.StartsWith(registries.Open.Address, upstream, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_NonLoopbackRegistryOverPlainHttp_IsOnlyAllowedWhenInsecure()
    {
        using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string> { "registry.lan:5000" } });
        Assert.True(client.AllowsHttp("127.0.0.1:5000"));
        Assert.True(client.AllowsHttp("localhost:5000"));
        Assert.True(client.AllowsHttp("registry.lan:5000"));
        Assert.False(client.AllowsHttp("registry.lan:5001"));
        Assert.False(client.AllowsHttp("123456789012.dkr.ecr.us-east-1.amazonaws.com"));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Pull_ArchivesWrittenBySkopeoAndPodman_AreRead()
    {
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var (code, _, stderr) = await Tools.RunAsync("skopeo", "copy", "--quiet", $"oci:{layout.Directory}:{tag}", $"oci-archive:{dir["image.oci.tar"]}:{tag}");
        Assert.True(code == 0, stderr);
        var cache = new ImageCache(dir["cache"]);
        var fromOciArchive = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse($"oci-archive:{dir["image.oci.tar"]}:{tag}"), false, null, null, default);
        Assert.Equal(2, fromOciArchive.Layers.Count);

        Tools.Require("podman", "podman");
        var reference = await registries.Open.PushAsync(layout.Directory, tag, "pull/podman");
        var podman = new[] { "--root", dir["podman-root"], "--runroot", dir["podman-run"], "--storage-driver", "vfs" };
        (code, _, stderr) = await Tools.RunAsync("podman", [.. podman, "pull", "--quiet", "--tls-verify=false", reference]);
        Assert.True(code == 0, stderr);
        (code, _, stderr) = await Tools.RunAsync("podman", [.. podman, "save", "--format", "docker-archive", "-o", dir["image.docker.tar"], reference]);
        Assert.True(code == 0, stderr);
        var fresh = new ImageCache(dir["cache2"]);
        var fromDockerArchive = await new ImagePuller(fresh, Registry).PullAsync(ImageLocation.Parse($"docker-archive:{dir["image.docker.tar"]}"), false, null, null, default);
        Assert.Equal(fromOciArchive.Layers, fromDockerArchive.Layers);
        Assert.Equal("hello from the top layer\n", File.ReadAllText(Path.Combine(fresh.LayerRoots(fromDockerArchive)[1], "etc", "motd")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(fresh.TempDirectory));
    }

    [Fact]
    public async Task Prune_KeepsTheLayersOfAnImageARunningJobHolds()
    {
        using var dir = new TempDirectory("pull");
        var (layout, tag) = await BusyboxLayoutAsync(dir);
        var reference = await registries.Open.PushAsync(layout.Directory, tag, "pull/in-use");
        var cache = new ImageCache(dir["cache"]);
        var image = await new ImagePuller(cache, Registry).PullAsync(ImageLocation.Parse(reference), false, null, null, default);
        Assert.True(cache.RemoveRef("docker://" + reference));

        using (await FileLock.AcquireAsync(cache.InUseLockPath(image.ManifestDigest), exclusive: false, default))
        {
            var kept = await cache.PruneAsync(default);
            Assert.Equal(0, kept.Layers);
            Assert.All(image.Layers, l => Assert.True(cache.HasLayer(l)));
        }

        var pruned = await cache.PruneAsync(default);
        Assert.Equal(2, pruned.Layers);
        Assert.All(image.Layers, l => Assert.False(cache.HasLayer(l)));
    }

    private static void WriteAuth(string path, string registry, string user, string password) =>
        File.WriteAllText(path, new System.Text.Json.Nodes.JsonObject
        {
            ["auths"] = new System.Text.Json.Nodes.JsonObject
            {
                [registry] = new System.Text.Json.Nodes.JsonObject { ["auth"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password)) },
            },
        }.ToJsonString());
}
