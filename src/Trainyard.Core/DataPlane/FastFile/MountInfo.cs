namespace Trainyard.DataPlane.FastFile;

/// <summary>Reads /proc/self/mountinfo: is a path a mount point, and of which device.</summary>
public static class MountInfo
{
    /// <summary>The device ("major:minor") mounted at <paramref name="mountPoint"/>, or null when nothing is.</summary>
    public static string? DeviceOf(string mountPoint)
    {
        string? device = null;
        foreach (var (dev, point, _) in Mounts())
        {
            if (point == mountPoint)
            {
                device = dev;
            }
        }

        return device;
    }

    /// <summary>Mount points whose file system type is <paramref name="fileSystemType"/> (e.g. <c>fuse.trainyard</c>).</summary>
    public static List<string> MountPointsOfType(string fileSystemType) =>
        Mounts().Where(m => m.Type == fileSystemType).Select(m => m.Point).ToList();

    private static IEnumerable<(string Device, string Point, string Type)> Mounts()
    {
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // id parent major:minor root mount-point options [optional fields] - type source super-options
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || dash < 0 || dash + 1 >= fields.Length)
            {
                continue;
            }

            yield return (fields[2], Unescape(fields[4]), fields[dash + 1]);
        }
    }

    private static string Unescape(string s) =>
        s.Contains('\\', StringComparison.Ordinal)
            ? s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
                .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal)
            : s;
}
