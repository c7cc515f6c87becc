using System.Globalization;

namespace Trainyard.Images.Runtime;

/// <summary>
/// The user an image runs as (its config's <c>User</c>: <c>uid</c>, <c>uid:gid</c>, <c>name</c>, <c>name:group</c>),
/// as ids inside the job's user namespace. Names are looked up in the image's own /etc/passwd and /etc/group.
/// </summary>
public readonly record struct ImageUser(int Uid, int Gid, string Home)
{
    public static readonly ImageUser Root = new(0, 0, "/root");

    /// <summary>Resolves <paramref name="user"/>; <paramref name="readImageFile"/> reads a file of the image's root (null when missing).</summary>
    public static ImageUser Resolve(string? user, Func<string, string?> readImageFile)
    {
        if (string.IsNullOrEmpty(user))
        {
            return Root;
        }

        var colon = user.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? user : user[..colon];
        var group = colon < 0 ? null : user[(colon + 1)..];
        var passwd = Parse(readImageFile("etc/passwd"));
        int uid;
        int? gid = null;
        var home = "/";
        if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out uid))
        {
            var entry = passwd.FirstOrDefault(p => p.Length > 3 && p[2] == name);
            if (entry is not null)
            {
                gid = int.Parse(entry[3], CultureInfo.InvariantCulture);
                home = entry.Length > 5 ? entry[5] : home;
            }
        }
        else
        {
            var entry = passwd.FirstOrDefault(p => p[0] == name)
                ?? throw new ImagePullException($"the image's User '{user}' is not in its /etc/passwd");
            uid = int.Parse(entry[2], CultureInfo.InvariantCulture);
            gid = int.Parse(entry[3], CultureInfo.InvariantCulture);
            home = entry.Length > 5 ? entry[5] : home;
        }

        if (group is not null)
        {
            if (int.TryParse(group, NumberStyles.None, CultureInfo.InvariantCulture, out var numeric))
            {
                gid = numeric;
            }
            else
            {
                var entry = Parse(readImageFile("etc/group")).FirstOrDefault(g => g[0] == group)
                    ?? throw new ImagePullException($"the group '{group}' of the image's User '{user}' is not in its /etc/group");
                gid = int.Parse(entry[2], CultureInfo.InvariantCulture);
            }
        }

        if (uid is < 0 or >= IdRange.Size || gid is < 0 or >= IdRange.Size)
        {
            throw new ImagePullException($"the image's User '{user}' is outside the ids 0-65535 a job's user namespace maps");
        }

        return new ImageUser(uid, gid ?? uid, uid == 0 ? "/root" : home);
    }

    private static List<string[]> Parse(string? file) =>
        (file ?? "").Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split(':'))
            .Where(f => f.Length >= 3 && (f.Length < 3 || int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            .ToList();
}
