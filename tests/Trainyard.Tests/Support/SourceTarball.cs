using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Trainyard.Tests.Support;

/// <summary>Builds the SDK's <c>sourcedir.tar.gz</c> (and hostile ones) in memory.</summary>
public static class SourceTarball
{
    /// <summary>One tar entry: a file (with content), a directory, a symbolic or hard link (with a target), or a FIFO.</summary>
    public sealed record Entry(string Name, TarEntryType Type, string Content = "", string? LinkTarget = null);

    public static Entry File(string name, string content) => new(name, TarEntryType.RegularFile, content);

    public static Entry Symlink(string name, string target) => new(name, TarEntryType.SymbolicLink, LinkTarget: target);

    public static Entry HardLink(string name, string target) => new(name, TarEntryType.HardLink, LinkTarget: target);

    public static byte[] Build(params Entry[] entries)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var e in entries)
            {
                var entry = new PaxTarEntry(e.Type, e.Name) { Mode = (UnixFileMode)0b110_100_100 };
                if (e.LinkTarget is not null)
                {
                    entry.LinkName = e.LinkTarget;
                }

                if (e.Type == TarEntryType.RegularFile)
                {
                    entry.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(e.Content));
                }

                tar.WriteEntry(entry);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>A pure-Python wheel written by hand (no setuptools, no index): <c>NAME-VERSION-py3-none-any.whl</c>.</summary>
    public static string Wheel(string directory, string name, string version, string initPy)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{name}-{version}-py3-none-any.whl");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        var info = $"{name}-{version}.dist-info";
        void Add(string entry, string text)
        {
            using var w = new StreamWriter(zip.CreateEntry(entry).Open());
            w.Write(text);
        }

        Add($"{name}/__init__.py", initPy);
        Add($"{info}/METADATA", $"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
        Add($"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: trainyard-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
        Add($"{info}/RECORD", $"{name}/__init__.py,,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n");
        return path;
    }
}
