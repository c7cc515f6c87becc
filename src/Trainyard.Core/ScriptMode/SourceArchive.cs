using System.Formats.Tar;
using System.IO.Compression;

namespace Trainyard.ScriptMode;

/// <summary>
/// Unpacks the SDK's <c>sourcedir.tar.gz</c> into <c>/opt/ml/code</c> without ever writing outside it:
/// absolute names, <c>..</c>, devices and FIFOs are refused; a symbolic link must point inside (relative,
/// resolved from where it lies) and is made only after every file, so no entry is written through one;
/// a hard link must name an earlier file of the archive and becomes a copy of it.
/// </summary>
public static class SourceArchive
{
    /// <summary>Extracts the gzip-compressed tar in <paramref name="archive"/> into <paramref name="destination"/>.</summary>
    /// <exception cref="SourceArchiveException">An entry is refused or the archive is not a .tar.gz.</exception>
    public static async Task ExtractAsync(Stream archive, string destination, CancellationToken cancellationToken)
    {
        var root = Path.GetFullPath(destination);
        Directory.CreateDirectory(root);
        var links = new List<(string Name, string Target, bool Symbolic)>();
        var files = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var gzip = new GZipStream(archive, CompressionMode.Decompress, leaveOpen: true);
            await using var tar = new TarReader(gzip, leaveOpen: true);
            while (await tar.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
            {
                var name = Normalise(entry.Name);
                if (name.Length == 0)
                {
                    continue; // "./", the archive's root
                }

                var path = Path.Combine(root, name);
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        EnsureRealParents(root, name, entry.Name);
                        Directory.CreateDirectory(path);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        EnsureRealParents(root, name, entry.Name);
                        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                        if (Directory.Exists(path))
                        {
                            throw new SourceArchiveException($"the entry '{entry.Name}' is a file where the archive already made a directory");
                        }

                        var file = new FileStream(path, new FileStreamOptions
                        {
                            Mode = FileMode.Create,
                            Access = FileAccess.Write,
                            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
                            Options = FileOptions.Asynchronous,
                        });
                        await using (file.ConfigureAwait(false))
                        {
                            if (entry.DataStream is { } data)
                            {
                                await data.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
                            }
                        }

                        // The archive's permission bits, without set-id or sticky bits; always readable by the owner.
                        File.SetUnixFileMode(path, (UnixFileMode)((int)entry.Mode & 0x1FF) | UnixFileMode.UserRead | UnixFileMode.UserWrite);
                        files.Add(name);
                        break;
                    case TarEntryType.SymbolicLink:
                        links.Add((name, entry.LinkName, true));
                        break;
                    case TarEntryType.HardLink:
                        links.Add((name, entry.LinkName, false));
                        break;
                    case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                        throw new SourceArchiveException($"the entry '{entry.Name}' is a {Describe(entry.EntryType)}, which a source directory may not hold");
                    case TarEntryType.ExtendedAttributes or TarEntryType.GlobalExtendedAttributes:
                        break;
                    default:
                        throw new SourceArchiveException($"the entry '{entry.Name}' has the tar type {entry.EntryType}, which is not supported");
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new SourceArchiveException($"it is not a gzip-compressed tar archive ({e.Message})");
        }
        catch (FormatException e)
        {
            throw new SourceArchiveException($"it is not a valid tar archive ({e.Message})");
        }

        // Hard links first (copies of files), then symbolic links, none of which is ever written through.
        foreach (var (name, target, _) in links.Where(l => !l.Symbolic))
        {
            var source = Normalise(target, name);
            if (!files.Contains(source))
            {
                throw new SourceArchiveException($"the entry '{name}' is a hard link to '{target}', which is not a file earlier in the archive");
            }

            EnsureRealParents(root, name, name);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, name))!);
            File.Copy(Path.Combine(root, source), Path.Combine(root, name), overwrite: true);
            files.Add(name);
        }

        var symbolic = links.Where(l => l.Symbolic).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, target, _) in links.Where(l => l.Symbolic))
        {
            if (target.StartsWith('/'))
            {
                throw new SourceArchiveException($"the entry '{name}' is a symbolic link to the absolute path '{target}', outside /opt/ml/code");
            }

            if (!StaysInside(name, target, symbolic))
            {
                throw new SourceArchiveException($"the entry '{name}' is a symbolic link to '{target}', which points outside /opt/ml/code");
            }

            EnsureRealParents(root, name, name);
            var path = Path.Combine(root, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (File.Exists(path) || Directory.Exists(path))
            {
                throw new SourceArchiveException($"the entry '{name}' is a symbolic link where the archive already made a file or directory");
            }

            File.CreateSymbolicLink(path, target);
        }
    }

    /// <summary>
    /// Walks <paramref name="target"/> from the link's directory as the kernel would. Every directory on the
    /// way is real (files and directories are made before links), except the archive's own links: a walk
    /// through one of them is refused, so what is checked here is what the kernel resolves.
    /// </summary>
    private static bool StaysInside(string name, string target, HashSet<string> symbolic)
    {
        var current = name.Split('/')[..^1].ToList();
        var parts = target.Split('/').Where(p => p is not ("" or ".")).ToList();
        for (var i = 0; i < parts.Count; i++)
        {
            if (parts[i] == "..")
            {
                if (current.Count == 0)
                {
                    return false;
                }

                current.RemoveAt(current.Count - 1);
                continue;
            }

            current.Add(parts[i]);
            if (i < parts.Count - 1 && symbolic.Contains(string.Join('/', current)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An entry's name relative to the archive's root; absolute names and <c>..</c> are refused.</summary>
    private static string Normalise(string entryName, string? linkOf = null)
    {
        var what = linkOf is null ? $"the entry '{entryName}'" : $"the entry '{linkOf}' is a hard link to '{entryName}', which";
        if (entryName.StartsWith('/'))
        {
            throw new SourceArchiveException($"{what} has an absolute path; a source directory's entries are relative to /opt/ml/code");
        }

        if (entryName.Contains('\0', StringComparison.Ordinal))
        {
            throw new SourceArchiveException($"{what} has a NUL character in its name");
        }

        var parts = new List<string>();
        foreach (var part in entryName.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                throw new SourceArchiveException($"{what} climbs out with '..'; a source directory's entries stay inside /opt/ml/code");
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }

    /// <summary>Refuses a path that would pass through a symbolic link (only links the archive made could be there).</summary>
    private static void EnsureRealParents(string root, string name, string entryName)
    {
        var current = root;
        var parts = name.Split('/');
        for (var i = 0; i < parts.Length - 1; i++)
        {
            current = Path.Combine(current, parts[i]);
            var info = new DirectoryInfo(current);
            if (info.LinkTarget is not null)
            {
                throw new SourceArchiveException($"the entry '{entryName}' lies beneath a symbolic link");
            }

            if (File.Exists(current))
            {
                throw new SourceArchiveException($"the entry '{entryName}' lies beneath '{string.Join('/', parts[..(i + 1)])}', which is a file");
            }
        }
    }

    private static string Describe(TarEntryType type) => type switch
    {
        TarEntryType.CharacterDevice => "character device",
        TarEntryType.BlockDevice => "block device",
        _ => "FIFO",
    };
}
