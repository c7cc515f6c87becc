using System.Formats.Tar;
using Trainyard.Images;
using Trainyard.Images.Cache;
using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.OciLayoutBuilder;

namespace Trainyard.Tests.Images;

/// <summary>Unpacking real layer tars into real directories (as root: ownership and whiteouts need it).</summary>
public sealed class LayerUnpackerTests
{
    private static void Unpack(string root, Action<TarWriter> write, string layer = "sha256:test")
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            write(writer);
        }

        tar.Position = 0;
        using var unpacker = new LayerUnpacker(root, layer);
        unpacker.Unpack(tar);
    }

    [Fact]
    public async Task Unpack_Whiteouts_BecomeOverlayWhiteoutsAndOpaqueDirectories()
    {
        using var dir = new TempDirectory("layer");
        Unpack(dir.Path, w =>
        {
            Dir(w, "etc");
            Text(w, "etc/.wh.removed.conf", "");
            Dir(w, "cache");
            Text(w, "cache/.wh..wh..opq", "");
            Text(w, "cache/fresh", "new");
        });

        var (code, stdout, _) = await Tools.RunAsync("stat", "-c", "%F %t:%T %u:%g", dir["etc/removed.conf"]);
        Assert.Equal(0, code);
        Assert.Equal("character special file 0:0 0:0", stdout.Trim());
        var (_, xattr, _) = await Tools.RunAsync("python3", "-c", $"import os; print(os.getxattr('{dir["cache"]}', 'trusted.overlay.opaque'))");
        Assert.Equal("b'y'", xattr.Trim());
        Assert.False(File.Exists(dir["cache/.wh..wh..opq"]));
        Assert.Equal("new", File.ReadAllText(dir["cache/fresh"]));
    }

    [Fact]
    public async Task Unpack_LinksOwnersAndModes_AreKeptAsRecorded()
    {
        using var dir = new TempDirectory("layer");
        Unpack(dir.Path, w =>
        {
            Dir(w, "usr/bin");
            Text(w, "usr/bin/tool", "#!/bin/sh\n", mode: 0xDED /* 06755 */, uid: 1234, gid: 4321);
            Link(w, TarEntryType.HardLink, "usr/bin/tool-alias", "usr/bin/tool");
            Link(w, TarEntryType.SymbolicLink, "lib64", "/usr/lib/x86_64-linux-gnu");
            w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev-null") { DeviceMajor = 1, DeviceMinor = 3, Mode = (UnixFileMode)0x1B6 });
        });

        var (_, stat, _) = await Tools.RunAsync("stat", "-c", "%a %u %g %h", dir["usr/bin/tool"]);
        Assert.Equal("6755 1234 4321 2", stat.Trim());
        Assert.Equal("/usr/lib/x86_64-linux-gnu", new FileInfo(dir["lib64"]).LinkTarget);
        Assert.False(File.Exists(dir["dev-null"]), "device nodes are skipped");
    }

    [Fact]
    public void Unpack_DotDotEntry_RefusesTheLayerByName()
    {
        using var dir = new TempDirectory("layer");
        var e = Assert.Throws<ImagePullException>(() => Unpack(dir.Path, w =>
        {
            Text(w, "ok", "fine");
            Text(w, "../../escaped-by-test", "evil");
        }, "sha256:badlayer"));
        Assert.Contains("layer sha256:badlayer is refused", e.Message, StringComparison.Ordinal);
        Assert.Contains("../../escaped-by-test", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(dir.Path)!)!, "escaped-by-test")));
    }

    [Fact]
    public void Unpack_HardLinkOutOfTheLayer_IsRefused()
    {
        using var dir = new TempDirectory("layer");
        var e = Assert.Throws<ImagePullException>(() => Unpack(dir.Path, w => Link(w, TarEntryType.HardLink, "shadow", "../../../../etc/shadow")));
        Assert.Contains("outside the layer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unpack_WriteThroughAbsoluteSymlink_StaysInsideTheLayer()
    {
        using var dir = new TempDirectory("layer");
        var marker = "trainyard-test-" + Guid.NewGuid().ToString("N")[..8];
        Unpack(dir.Path, w =>
        {
            Dir(w, "tmp");
            Link(w, TarEntryType.SymbolicLink, "escape", "/tmp");
            Text(w, $"escape/{marker}", "evil");
            Link(w, TarEntryType.SymbolicLink, "up", "../../../..");
            Text(w, $"up/tmp/{marker}-2", "evil");
        });

        Assert.False(File.Exists("/tmp/" + marker), "the write went through the symlink onto the machine");
        Assert.False(File.Exists($"/tmp/{marker}-2"));
        Assert.Equal("evil", File.ReadAllText(dir[$"tmp/{marker}"]));
        Assert.Equal("evil", File.ReadAllText(dir[$"tmp/{marker}-2"]));
    }

    [Fact]
    public void Unpack_LaterEntryReplacesEarlier_AndMissingParentsAreCreated()
    {
        using var dir = new TempDirectory("layer");
        Unpack(dir.Path, w =>
        {
            Text(w, "a/b/c/file", "one");
            Text(w, "a/b/c/file", "two");
            Link(w, TarEntryType.SymbolicLink, "a/b/c/link", "file");
            Text(w, "a/b/c/link", "replaced the link itself");
        });

        Assert.Equal("two", File.ReadAllText(dir["a/b/c/file"]));
        Assert.Null(new FileInfo(dir["a/b/c/link"]).LinkTarget);
        Assert.Equal("replaced the link itself", File.ReadAllText(dir["a/b/c/link"]));
    }
}
