using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Trainyard.Tests.Support;

/// <summary>
/// Writes OCI image layouts for tests (the short script skopeo then pushes): layers made with
/// <see cref="TarWriter"/>, gzip-compressed, a config with Entrypoint/Cmd/Env/WorkingDir/User, a manifest,
/// and index.json entries tagged with <c>org.opencontainers.image.ref.name</c>.
/// </summary>
public sealed class OciLayoutBuilder
{
    private readonly JsonArray _index = [];

    public OciLayoutBuilder(string directory)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
        File.WriteAllText(Path.Combine(directory, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        Save();
    }

    public string Directory { get; }

    /// <summary>A layer blob: its compressed bytes' digest, its uncompressed digest and media type.</summary>
    public sealed record Layer(string Digest, string DiffId, long Size, string MediaType);

    public Layer AddLayer(Action<TarWriter> write, bool gzip = true, string? mediaType = null)
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        var raw = tar.ToArray();
        var diffId = Digest(raw);
        byte[] blob = raw;
        if (gzip)
        {
            using var compressed = new MemoryStream();
            using (var z = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
            {
                z.Write(raw);
            }

            blob = compressed.ToArray();
        }

        var digest = AddBlob(blob);
        return new Layer(digest, diffId, blob.Length, mediaType ?? (gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar"));
    }

    /// <summary>Adds an image (config + manifest); returns the manifest's descriptor.</summary>
    public JsonObject AddImage(IReadOnlyList<Layer> layers, string[]? entrypoint = null, string[]? cmd = null, string[]? env = null,
        string? workingDir = null, string? user = null, string architecture = "amd64")
    {
        var run = new JsonObject();
        if (entrypoint is not null)
        {
            run["Entrypoint"] = new JsonArray(entrypoint.Select(e => (JsonNode)e).ToArray());
        }

        if (cmd is not null)
        {
            run["Cmd"] = new JsonArray(cmd.Select(e => (JsonNode)e).ToArray());
        }

        run["Env"] = new JsonArray((env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]).Select(e => (JsonNode)e).ToArray());
        if (workingDir is not null)
        {
            run["WorkingDir"] = workingDir;
        }

        if (user is not null)
        {
            run["User"] = user;
        }

        var config = new JsonObject
        {
            ["architecture"] = architecture,
            ["os"] = "linux",
            ["config"] = run,
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(layers.Select(l => (JsonNode)l.DiffId).ToArray()) },
        };
        var configBytes = System.Text.Encoding.UTF8.GetBytes(config.ToJsonString());
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = AddBlob(configBytes), ["size"] = configBytes.Length },
            ["layers"] = new JsonArray(layers.Select(l => (JsonNode)new JsonObject { ["mediaType"] = l.MediaType, ["digest"] = l.Digest, ["size"] = l.Size }).ToArray()),
        };
        var bytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        return new JsonObject
        {
            ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
            ["digest"] = AddBlob(bytes),
            ["size"] = bytes.Length,
            ["platform"] = new JsonObject { ["architecture"] = architecture, ["os"] = "linux" },
        };
    }

    /// <summary>Adds an index of several images (a multi-arch image); returns its descriptor.</summary>
    public JsonObject AddIndex(params JsonObject[] manifests)
    {
        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = new JsonArray(manifests.Select(m => (JsonNode)m.DeepClone()).ToArray()),
        };
        var bytes = System.Text.Encoding.UTF8.GetBytes(index.ToJsonString());
        return new JsonObject { ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["digest"] = AddBlob(bytes), ["size"] = bytes.Length };
    }

    /// <summary>Names a manifest or index <paramref name="tag"/> in index.json.</summary>
    public OciLayoutBuilder Tag(JsonObject descriptor, string tag)
    {
        var entry = (JsonObject)descriptor.DeepClone();
        entry.Remove("platform");
        entry["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = tag };
        _index.Add(entry);
        Save();
        return this;
    }

    public string AddBlob(byte[] content)
    {
        var digest = Digest(content);
        File.WriteAllBytes(Path.Combine(Directory, "blobs", "sha256", digest["sha256:".Length..]), content);
        return digest;
    }

    public static string Digest(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private void Save() =>
        File.WriteAllText(Path.Combine(Directory, "index.json"), new JsonObject { ["schemaVersion"] = 2, ["manifests"] = _index.DeepClone() }.ToJsonString());

    /// <summary>Adds a directory entry.</summary>
    public static void Dir(TarWriter w, string name, int mode = 0x1ED, int uid = 0, int gid = 0) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, name) { Mode = (UnixFileMode)mode, Uid = uid, Gid = gid, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000) });

    /// <summary>Adds a regular file.</summary>
    public static void File_(TarWriter w, string name, byte[] content, int mode = 0x1A4, int uid = 0, int gid = 0) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = (UnixFileMode)mode,
            Uid = uid,
            Gid = gid,
            DataStream = new MemoryStream(content),
            ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000),
        });

    public static void Text(TarWriter w, string name, string content, int mode = 0x1A4, int uid = 0, int gid = 0) =>
        File_(w, name, System.Text.Encoding.UTF8.GetBytes(content), mode, uid, gid);

    public static void Link(TarWriter w, TarEntryType type, string name, string target) =>
        w.WriteEntry(new PaxTarEntry(type, name) { LinkName = target, Mode = (UnixFileMode)0x1FF, ModificationTime = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000) });

    /// <summary>The machine's static busybox as /bin/busybox with /bin/sh, and an executable /usr/local/bin/train script.</summary>
    public static void Busybox(TarWriter w, string trainScript = "#!/bin/sh\necho trained\n")
    {
        Dir(w, "bin");
        File_(w, "bin/busybox", File.ReadAllBytes(BusyboxPath), 0x1ED);
        foreach (var applet in new[] { "sh", "cat", "echo", "id", "ls", "sleep", "nc", "env", "pwd", "stat", "touch", "mkdir", "rm", "wc", "grep", "hostname", "test" })
        {
            Link(w, TarEntryType.SymbolicLink, "bin/" + applet, "/bin/busybox");
        }

        Dir(w, "etc");
        Text(w, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\ntrainer:x:1000:1000:trainer:/home/trainer:/bin/sh\n");
        Text(w, "etc/group", "root:x:0:\ntrainer:x:1000:\n");
        Dir(w, "usr");
        Dir(w, "usr/local");
        Dir(w, "usr/local/bin");
        Text(w, "usr/local/bin/train", trainScript, 0x1ED);
    }

    public const string BusyboxPath = "/bin/busybox";
}
