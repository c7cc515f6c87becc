namespace Trainyard.Api.Auth;

/// <summary>
/// The identities that may call the server: every profile of the AWS shared-credentials files given to
/// <c>serve --credentials-file</c> (<c>[name]</c> sections with <c>aws_access_key_id</c> and
/// <c>aws_secret_access_key</c>), plus identities the server makes for itself (its hosts' key). A file is
/// read again when its size or time changes, at most once a second; a file that cannot be read keeps the
/// identities it last gave.
/// </summary>
public sealed class CredentialFiles
{
    private readonly string[] _paths;
    private readonly Dictionary<string, (long Size, DateTime Time, Dictionary<string, string> Keys)> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _extra = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private Dictionary<string, string> _keys = new(StringComparer.Ordinal);
    private long _checkedAt = long.MinValue;

    public CredentialFiles(IReadOnlyList<string> paths)
    {
        _paths = [.. paths.Select(Path.GetFullPath)];
        foreach (var path in _paths)
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"The credentials file {path} does not exist.", path);
            }
        }

        Refresh(force: true);
        if (_keys.Count == 0)
        {
            throw new InvalidDataException($"No identity in {string.Join(", ", _paths)}: each profile needs aws_access_key_id and aws_secret_access_key.");
        }
    }

    /// <summary>Adds an identity the server made itself.</summary>
    public void Add(string accessKeyId, string secret)
    {
        lock (_gate)
        {
            _extra[accessKeyId] = secret;
            _keys = Merge();
        }
    }

    /// <summary>The secret of <paramref name="accessKeyId"/>, or null for a key nobody gave.</summary>
    public string? SecretOf(string accessKeyId)
    {
        Refresh(force: false);
        return Volatile.Read(ref _keys).TryGetValue(accessKeyId, out var secret) ? secret : null;
    }

    private void Refresh(bool force)
    {
        var now = Environment.TickCount64;
        if (!force && now - Interlocked.Read(ref _checkedAt) < 1000)
        {
            return;
        }

        lock (_gate)
        {
            _checkedAt = now;
            var changed = false;
            foreach (var path in _paths)
            {
                var info = new FileInfo(path);
                if (!info.Exists || (_files.TryGetValue(path, out var known) && known.Size == info.Length && known.Time == info.LastWriteTimeUtc))
                {
                    continue;
                }

                try
                {
                    _files[path] = (info.Length, info.LastWriteTimeUtc, Parse(File.ReadAllLines(path)));
                    changed = true;
                }
                catch (IOException)
                {
                }
            }

            if (changed || force)
            {
                _keys = Merge();
            }
        }
    }

    private Dictionary<string, string> Merge()
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in _files.Values)
        {
            foreach (var (k, v) in file.Keys)
            {
                keys[k] = v;
            }
        }

        foreach (var (k, v) in _extra)
        {
            keys[k] = v;
        }

        return keys;
    }

    /// <summary>The access key → secret pairs of an AWS shared-credentials file.</summary>
    public static Dictionary<string, string> Parse(IEnumerable<string> lines)
    {
        var keys = new Dictionary<string, string>(StringComparer.Ordinal);
        string? id = null, secret = null;
        void Flush()
        {
            if (id is { Length: > 0 } && secret is { Length: > 0 })
            {
                keys[id] = secret;
            }

            id = secret = null;
        }

        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[')
            {
                Flush();
                continue;
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var name = line[..eq].Trim().ToLowerInvariant();
            var value = line[(eq + 1)..].Trim();
            if (name == "aws_access_key_id")
            {
                id = value;
            }
            else if (name == "aws_secret_access_key")
            {
                secret = value;
            }
        }

        Flush();
        return keys;
    }
}
