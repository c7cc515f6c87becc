using System.Formats.Tar;
using Trainyard.ScriptMode;
using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.SourceTarball;

namespace Trainyard.Tests.ScriptMode;

/// <summary>Unpacking a source directory never writes outside /opt/ml/code, whatever the archive says.</summary>
public sealed class SourceArchiveTests
{
    private static async Task<string> ExtractAsync(TempDirectory dir, byte[] archive)
    {
        var code = dir["ml/code"];
        using var stream = new MemoryStream(archive);
        await SourceArchive.ExtractAsync(stream, code, CancellationToken.None);
        return code;
    }

    [Fact]
    public async Task Extract_SourceDirectory_FilesDirectoriesAndInsideLinks()
    {
        using var dir = new TempDirectory();
        var code = await ExtractAsync(dir, Build(
            new Entry("./", TarEntryType.Directory),
            File("./train.py", "print(1)\n"),
            new Entry("./lib", TarEntryType.Directory),
            File("./lib/helper.py", "X = 1\n"),
            Symlink("./current", "lib/helper.py"),
            Symlink("./lib/up", "../train.py"),
            HardLink("./copy.py", "train.py")));
        Assert.Equal("print(1)\n", System.IO.File.ReadAllText(Path.Combine(code, "train.py")));
        Assert.Equal("X = 1\n", System.IO.File.ReadAllText(Path.Combine(code, "current")));
        Assert.Equal("print(1)\n", System.IO.File.ReadAllText(Path.Combine(code, "lib/up")));
        Assert.Equal("print(1)\n", System.IO.File.ReadAllText(Path.Combine(code, "copy.py")));
    }

    public static TheoryData<string, Entry[], string> Hostile => new()
    {
        { "dot-dot", [File("../evil.txt", "x")], "'../evil.txt'" },
        { "dot-dot deep", [File("a/../../evil.txt", "x")], "'a/../../evil.txt'" },
        { "absolute", [File("/tmp/trainyard-evil-absolute.txt", "x")], "/tmp/trainyard-evil-absolute.txt" },
        { "symlink to /etc", [Symlink("etc", "/etc"), File("train.py", "")], "'etc'" },
        { "symlink climbing", [Symlink("up", "../../.."), File("train.py", "")], "'up'" },
        { "symlink chain", [Symlink("a", "."), Symlink("b", "a/a/a/../../.."), File("train.py", "")], "'b'" },
        { "file through a link", [Symlink("sub", "."), File("sub/x.txt", "x")], "'sub'" },
        { "hard link out", [HardLink("h", "../../../etc/passwd")], "'h'" },
        { "fifo", [new Entry("pipe", TarEntryType.Fifo)], "'pipe'" },
        { "device", [new Entry("null", TarEntryType.CharacterDevice)], "'null'" },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task Extract_HostileEntry_IsRefusedByNameAndNothingLandsOutside(string what, Entry[] entries, string named)
    {
        using var dir = new TempDirectory();
        var e = await Assert.ThrowsAsync<SourceArchiveException>(() => ExtractAsync(dir, Build(entries)));
        Assert.True(e.Message.Contains(named, StringComparison.Ordinal), $"{what}: {e.Message}");
        Assert.False(System.IO.File.Exists(dir["ml/evil.txt"]) || System.IO.File.Exists(dir["evil.txt"]), what);
        Assert.False(System.IO.File.Exists("/tmp/trainyard-evil-absolute.txt"), what);
        Assert.Equal([dir["ml"]], Directory.GetFileSystemEntries(dir.Path));
        Assert.Equal([dir["ml/code"]], Directory.GetFileSystemEntries(dir["ml"]));
    }

    [Fact]
    public async Task Extract_NotGzip_SaysSo()
    {
        using var dir = new TempDirectory();
        var e = await Assert.ThrowsAsync<SourceArchiveException>(() => ExtractAsync(dir, "plain text, not an archive"u8.ToArray()));
        Assert.Contains("gzip", e.Message, StringComparison.Ordinal);
    }
}
