using System.Formats.Tar;
using System.IO.Compression;

namespace Trainyard.Tests.Support;

/// <summary>Reads an uploaded .tar.gz the way a user would unpack it.</summary>
public static class TarGz
{
    public static Dictionary<string, string> Entries(string path)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                using var reader = new StreamReader(entry.DataStream!);
                result[entry.Name] = reader.ReadToEnd();
            }
        }

        return result;
    }
}
