namespace Trainyard.Tests.Support;

/// <summary>A directory under /tmp that is removed when the test ends.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string? name = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "trainyard-tests", (name ?? "t") + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    public string Write(string relative, string content, bool executable = false)
    {
        var full = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        if (executable)
        {
            File.SetUnixFileMode(full, (UnixFileMode)0b111_101_101);
        }

        return full;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // a FIFO or a busy file; /tmp is cleaned eventually
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
