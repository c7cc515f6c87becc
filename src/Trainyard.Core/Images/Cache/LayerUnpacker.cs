using System.Formats.Tar;
using System.Text;

using Trainyard.Interop;

namespace Trainyard.Images.Cache;

/// <summary>
/// Unpacks one layer tar into its own directory in overlayfs's format, following the OCI image spec:
/// whiteouts (<c>.wh.NAME</c>) become 0:0 character devices and opaque directories (<c>.wh..wh..opq</c>)
/// get <c>trusted.overlay.opaque=y</c>; hard links, symlinks (absolute targets kept as they are),
/// permissions, ownership (as recorded, not shifted), times and extended attributes are kept; device
/// nodes are skipped. Every path is resolved beneath the layer directory (openat2 with RESOLVE_IN_ROOT)
/// and the last component is never followed, so nothing is written outside it; an entry whose name or
/// hard-link target climbs out with <c>..</c> refuses the whole layer.
/// </summary>
public sealed class LayerUnpacker : IDisposable
{
    private const string WhiteoutPrefix = ".wh.";
    private const string OpaqueMarker = ".wh..wh..opq";
    private readonly int _root;
    private readonly string _layer;
    private readonly List<(string Path, DateTimeOffset Time)> _directoryTimes = [];
    private readonly byte[] _buffer = new byte[1 << 17];
    private string? _parentPath;
    private int _parentFd = -1;

    /// <param name="rootDirectory">An empty directory that becomes the layer.</param>
    /// <param name="layer">The layer's name in messages (its digest).</param>
    public LayerUnpacker(string rootDirectory, string layer)
    {
        _layer = layer;
        _root = Libc.OpenAt(Libc.AT_FDCWD, rootDirectory, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (_root < 0)
        {
            throw new IOException($"cannot open {rootDirectory}: {Libc.Describe(Libc.LastError)}");
        }
    }

    /// <summary>Device nodes that were skipped.</summary>
    public int SkippedDevices { get; private set; }

    /// <summary>Bytes of file content written.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Reads the whole tar stream and writes the layer.</summary>
    public void Unpack(Stream tar)
    {
        using var reader = new TarReader(tar, leaveOpen: true);
        while (reader.GetNextEntry(copyData: false) is { } entry)
        {
            Apply(entry);
        }

        // Directory times last: creating their children changed them.
        foreach (var (path, time) in _directoryTimes)
        {
            _ = Libc.SetTimes(_root, path.Length == 0 ? "." : path, time);
        }
    }

    private void Apply(TarEntry entry)
    {
        var path = Normalise(entry.Name);
        if (path is null)
        {
            throw new ImagePullException($"layer {_layer} is refused: the entry '{entry.Name}' climbs out of the layer with '..'");
        }

        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes)
        {
            return;
        }

        if (path.Length == 0)
        {
            return; // the layer's own root: keep it as created
        }

        var slash = path.LastIndexOf('/');
        var dir = slash < 0 ? "" : path[..slash];
        var name = slash < 0 ? path : path[(slash + 1)..];
        var parent = Parent(dir);
        if (name == OpaqueMarker)
        {
            var fd = Check(Libc.OpenAt(parent, ".", Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0), "open", dir);
            try
            {
                Check(Libc.Fsetxattr(fd, "trusted.overlay.opaque", "y"u8.ToArray(), 1, 0), "mark opaque", dir);
            }
            finally
            {
                Libc.Close(fd);
            }

            return;
        }

        if (name.StartsWith(WhiteoutPrefix, StringComparison.Ordinal))
        {
            var hidden = name[WhiteoutPrefix.Length..];
            if (hidden.Length == 0 || hidden.Contains('/', StringComparison.Ordinal))
            {
                throw new ImagePullException($"layer {_layer} is refused: the whiteout '{entry.Name}' names nothing");
            }

            Remove(parent, hidden, dir);
            Check(Libc.MknodAt(parent, hidden, Libc.S_IFCHR | 0, 0), "whiteout", path);
            return;
        }

        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                Directory(parent, name, path, entry);
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                RegularFile(parent, name, path, entry);
                break;
            case TarEntryType.SymbolicLink:
                Remove(parent, name, path);
                Check(Libc.SymlinkAt(entry.LinkName, parent, name), "symlink", path);
                Check(Libc.FchownAt(parent, name, entry.Uid, entry.Gid, Libc.AT_SYMLINK_NOFOLLOW), "chown", path);
                _ = Libc.SetTimes(parent, name, entry.ModificationTime);
                break;
            case TarEntryType.HardLink:
                HardLink(parent, name, path, entry);
                break;
            case TarEntryType.Fifo:
                Remove(parent, name, path);
                Check(Libc.MknodAt(parent, name, Libc.S_IFIFO | (uint)entry.Mode & 0xFFF, 0), "mkfifo", path);
                Check(Libc.FchownAt(parent, name, entry.Uid, entry.Gid, Libc.AT_SYMLINK_NOFOLLOW), "chown", path);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                SkippedDevices++;
                break;
            default:
                // Pax/GNU metadata entries are folded into the next entry by TarReader; others carry nothing to write.
                break;
        }
    }

    private void Directory(int parent, string name, string path, TarEntry entry)
    {
        var fd = Libc.OpenAt(parent, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            Remove(parent, name, path);
            Check(Libc.MkdirAt(parent, name, 0x1C0 /* 0700 */), "mkdir", path);
            fd = Check(Libc.OpenAt(parent, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0), "open", path);
        }

        try
        {
            Metadata(fd, path, entry);
        }
        finally
        {
            Libc.Close(fd);
        }

        _directoryTimes.Add((path, entry.ModificationTime));
    }

    private void RegularFile(int parent, string name, string path, TarEntry entry)
    {
        Remove(parent, name, path);
        var fd = Check(Libc.OpenAt(parent, name, Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x180 /* 0600 */), "create", path);
        try
        {
            if (entry.DataStream is { } data)
            {
                int n;
                while ((n = data.Read(_buffer)) > 0)
                {
                    Libc.WriteAll(fd, _buffer.AsSpan(0, n));
                    BytesWritten += n;
                }
            }

            Metadata(fd, path, entry);
            _ = Libc.SetTimes(fd, entry.ModificationTime);
        }
        catch (IOException e) when (e.HResult == Libc.ENOSPC)
        {
            throw new IOException($"the disk is full (writing {path} in layer {_layer})", e);
        }
        catch (IOException e)
        {
            throw new IOException($"{path}: {e.Message}", e);
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    private void HardLink(int parent, string name, string path, TarEntry entry)
    {
        var target = Normalise(entry.LinkName);
        if (target is null || target.Length == 0)
        {
            throw new ImagePullException($"layer {_layer} is refused: the hard link '{entry.Name}' points at '{entry.LinkName}', outside the layer");
        }

        var slash = target.LastIndexOf('/');
        var targetDir = slash < 0 ? "" : target[..slash];
        var targetName = slash < 0 ? target : target[(slash + 1)..];
        var targetParent = Libc.OpenAt2(_root, targetDir.Length == 0 ? "." : targetDir, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0,
            Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
        if (targetParent < 0)
        {
            throw new ImagePullException($"layer {_layer} is refused: the hard link '{entry.Name}' points at '{entry.LinkName}', which the layer does not hold before it");
        }

        try
        {
            Remove(parent, name, path);
            if (Libc.LinkAt(targetParent, targetName, parent, name, 0) != 0)
            {
                throw new ImagePullException($"layer {_layer} is refused: the hard link '{entry.Name}' → '{entry.LinkName}' cannot be made: {Libc.Describe(Libc.LastError)}");
            }
        }
        finally
        {
            Libc.Close(targetParent);
        }
    }

    private void Metadata(int fd, string path, TarEntry entry)
    {
        Check(Libc.Fchown(fd, entry.Uid, entry.Gid), "chown", path);

        // After chown, which clears set-user-ID and set-group-ID bits.
        Check(Libc.Fchmod(fd, (uint)entry.Mode & 0xFFF), "chmod", path);
        if (entry is PaxTarEntry pax)
        {
            foreach (var (key, value) in pax.ExtendedAttributes)
            {
                if (!key.StartsWith("SCHILY.xattr.", StringComparison.Ordinal))
                {
                    continue;
                }

                var attribute = key["SCHILY.xattr.".Length..];

                // overlayfs's own attributes would let a layer forge whiteouts or redirects.
                if (attribute.StartsWith("trusted.overlay.", StringComparison.Ordinal) || attribute.StartsWith("security.selinux", StringComparison.Ordinal))
                {
                    continue;
                }

                var bytes = Encoding.Latin1.GetBytes(value);
                _ = Libc.Fsetxattr(fd, attribute, bytes, (nuint)bytes.Length, 0);
            }
        }
    }

    /// <summary>Removes whatever <paramref name="name"/> is in <paramref name="parent"/> (a tar entry replaces what was there).</summary>
    private void Remove(int parent, string name, string path)
    {
        if (Libc.UnlinkAt(parent, name, 0) == 0)
        {
            return;
        }

        var error = Libc.LastError;
        if (error == Libc.ENOENT)
        {
            return;
        }

        if (error is Libc.EISDIR or 1 /* EPERM: unlink of a directory */)
        {
            RemoveTree(parent, name, path);
            return;
        }

        throw new IOException($"cannot replace {path}: {Libc.Describe(error)}");
    }

    private void RemoveTree(int parent, string name, string path)
    {
        if (Libc.UnlinkAt(parent, name, Libc.AT_REMOVEDIR) == 0)
        {
            return;
        }

        var fd = Check(Libc.OpenAt(parent, name, Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0), "open", path);
        try
        {
            var full = Path.Combine($"/proc/self/fd/{fd}");
            foreach (var child in new DirectoryInfo(full).EnumerateFileSystemInfos())
            {
                if (Libc.UnlinkAt(fd, child.Name, 0) != 0)
                {
                    RemoveTree(fd, child.Name, path + "/" + child.Name);
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }

        _parentPath = null; // cached descriptors below it are gone
        Check(Libc.UnlinkAt(parent, name, Libc.AT_REMOVEDIR), "remove", path);
    }

    /// <summary>The directory <paramref name="dir"/> of the layer, resolved beneath it, created when missing.</summary>
    private int Parent(string dir)
    {
        if (dir == _parentPath && _parentFd >= 0)
        {
            return _parentFd;
        }

        if (_parentFd >= 0)
        {
            Libc.Close(_parentFd);
            _parentFd = -1;
        }

        var fd = Libc.OpenAt2(_root, dir.Length == 0 ? "." : dir, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0,
            Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
        if (fd < 0 && Libc.LastError == Libc.ENOENT)
        {
            // Tars may omit directory entries: create the missing ones, each beneath the root.
            var current = "";
            foreach (var part in dir.Split('/'))
            {
                var at = Libc.OpenAt2(_root, current.Length == 0 ? "." : current, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0,
                    Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
                if (at < 0)
                {
                    throw new ImagePullException($"layer {_layer} is refused: '{dir}' goes through '{current}', a symlink that leads nowhere in the layer");
                }

                try
                {
                    if (Libc.MkdirAt(at, part, 0x1ED /* 0755 */) != 0 && Libc.LastError != Libc.EEXIST)
                    {
                        Check(-1, "mkdir", current.Length == 0 ? part : current + "/" + part);
                    }
                }
                finally
                {
                    Libc.Close(at);
                }

                current = current.Length == 0 ? part : current + "/" + part;
            }

            fd = Libc.OpenAt2(_root, dir, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0,
                Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
        }

        Check(fd, "open", dir);
        _parentFd = fd;
        _parentPath = dir;
        return fd;
    }

    /// <summary>The entry's path relative to the layer root without '.', or null when '..' climbs out.</summary>
    public static string? Normalise(string name)
    {
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    return null;
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }

    private int Check(int result, string what, string path)
    {
        if (result < 0)
        {
            var error = Libc.LastError;
            if (error == Libc.ENOSPC)
            {
                throw new IOException($"the disk is full ({what} {path} in layer {_layer})");
            }

            if (error is Libc.ELOOP or Libc.EXDEV or Libc.ENOTDIR)
            {
                throw new ImagePullException($"layer {_layer} is refused: {what} '{path}' goes through a link that leads out of place ({Libc.Describe(error)})");
            }

            throw new IOException($"{what} {path} in layer {_layer}: {Libc.Describe(error)}");
        }

        return result;
    }

    public void Dispose()
    {
        if (_parentFd >= 0)
        {
            Libc.Close(_parentFd);
            _parentFd = -1;
        }

        Libc.Close(_root);
    }
}
