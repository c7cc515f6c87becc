namespace Trainyard.Storage;

/// <summary>One entry of a listing page: an object, or a common prefix (the object is then null).</summary>
public sealed record ListingEntry(string Key, FileInfo? File)
{
    public bool IsPrefix => File is null;
}

/// <summary>A page of a listing: its entries, and whether more follow.</summary>
public sealed record ListingPage(IReadOnlyList<ListingEntry> Entries, bool IsTruncated);

/// <summary>
/// S3's ListObjects over a bucket directory: keys in ordinal order after a marker, grouped into common
/// prefixes by a delimiter. Directories that cannot hold a key of the page are never opened — those that
/// do not match the prefix, those wholly before the marker and, with the delimiter <c>/</c>, those that
/// are one common prefix — so a page costs about the directories on its path, not the whole bucket.
/// </summary>
public static class LocalListing
{
    /// <param name="bucketRoot">The bucket's directory.</param>
    /// <param name="prefix">Only keys that begin with it.</param>
    /// <param name="delimiter">Groups keys that contain it after the prefix into common prefixes; empty for none.</param>
    /// <param name="after">Only entries after it (a key, or a common prefix a previous page ended with); empty for the start.</param>
    /// <param name="maxEntries">The page's size (objects and common prefixes together).</param>
    public static ListingPage List(string bucketRoot, string prefix, string delimiter, string after, int maxEntries, CancellationToken cancellationToken)
    {
        var entries = new List<ListingEntry>();
        var afterIsPrefix = delimiter.Length > 0 && after.Length > prefix.Length && after.StartsWith(prefix, StringComparison.Ordinal)
            && after.EndsWith(delimiter, StringComparison.Ordinal) && after.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal) == after.Length - delimiter.Length;
        string? lastPrefix = afterIsPrefix ? after : null;
        var truncated = false;
        foreach (var walked in Walk(bucketRoot, "", prefix, delimiter, after, afterIsPrefix, cancellationToken))
        {
            var entry = walked;
            var key = entry.Key;
            if (!entry.IsPrefix && delimiter.Length > 0)
            {
                var at = key.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                if (at >= 0)
                {
                    var common = key[..(at + delimiter.Length)];
                    if (common == lastPrefix)
                    {
                        continue;
                    }

                    entry = new ListingEntry(common, null);
                }
            }

            if (entry.IsPrefix)
            {
                if (entry.Key == lastPrefix)
                {
                    continue;
                }

                lastPrefix = entry.Key;
            }

            if (entries.Count == maxEntries)
            {
                truncated = true;
                break;
            }

            entries.Add(entry);
        }

        return new ListingPage(entries, truncated);
    }

    // Keys below `dirKey` ("" or "a/b/") in ordinal order, each file after `after`; with the delimiter "/",
    // a directory that is exactly one common prefix comes back as that prefix (if it holds any file).
    private static IEnumerable<ListingEntry> Walk(string bucketRoot, string dirKey, string prefix, string delimiter, string after, bool afterIsPrefix,
        CancellationToken cancellationToken)
    {
        var path = dirKey.Length == 0 ? bucketRoot : bucketRoot + "/" + dirKey.TrimEnd('/');
        IEnumerable<FileSystemInfo> children;
        try
        {
            children = new DirectoryInfo(path).EnumerateFileSystemInfos().ToList();
        }
        catch (Exception e) when (e is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        var sorted = new List<(string Key, FileSystemInfo Info)>();
        foreach (var child in children)
        {
            if (child.Name.StartsWith(".trainyard-", StringComparison.Ordinal))
            {
                continue;
            }

            var isDir = child is DirectoryInfo && (child.Attributes & FileAttributes.ReparsePoint) == 0;
            if (child is DirectoryInfo && !isDir)
            {
                continue;
            }

            var key = dirKey + child.Name + (isDir ? "/" : "");
            if (!(key.StartsWith(prefix, StringComparison.Ordinal) || (isDir && prefix.StartsWith(key, StringComparison.Ordinal))))
            {
                continue;
            }

            if (isDir)
            {
                // Every key below `key` sorts before `after` (or within the common prefix the last page ended on).
                if ((string.CompareOrdinal(after, key) > 0 && !after.StartsWith(key, StringComparison.Ordinal)) || (afterIsPrefix && key.StartsWith(after, StringComparison.Ordinal)))
                {
                    continue;
                }
            }
            else if (string.CompareOrdinal(key, after) <= 0 || (afterIsPrefix && key.StartsWith(after, StringComparison.Ordinal)))
            {
                continue;
            }

            sorted.Add((key, child));
        }

        sorted.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        foreach (var (key, info) in sorted)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (info is FileInfo file)
            {
                yield return new ListingEntry(key, file);
                continue;
            }

            if (delimiter == "/" && key.Length > prefix.Length && key.IndexOf('/', prefix.Length) == key.Length - 1)
            {
                if (HoldsFile((DirectoryInfo)info))
                {
                    yield return new ListingEntry(key, null);
                }

                continue;
            }

            foreach (var nested in Walk(bucketRoot, key, prefix, delimiter, after, afterIsPrefix, cancellationToken))
            {
                yield return nested;
            }
        }
    }

    private static bool HoldsFile(DirectoryInfo dir)
    {
        foreach (var child in dir.EnumerateFileSystemInfos())
        {
            if (child is FileInfo && !child.Name.StartsWith(".trainyard-", StringComparison.Ordinal))
            {
                return true;
            }

            if (child is DirectoryInfo d && (d.Attributes & FileAttributes.ReparsePoint) == 0 && HoldsFile(d))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the bucket directory holds any object.</summary>
    public static bool IsEmpty(string bucketRoot) => !HoldsFile(new DirectoryInfo(bucketRoot));
}
