using System.Globalization;
using System.Text;

using Trainyard.Interop;

namespace Trainyard.Images.Runtime;

/// <summary>
/// The root file system of one image host: the image's layers, as stored in the cache (ownership as
/// recorded, not shifted), appear through idmapped mounts of the job's <see cref="UserNamespace"/> as the
/// lower directories of a kernel overlay mount, over a writable upper directory of the host that is
/// discarded when the host ends (a <c>docker run</c> root is writable too). The host's
/// <c>/opt/ml/{input,model,output,checkpoints}</c>, <c>/etc/hosts</c> and <c>/etc/resolv.conf</c> are
/// bind-mounted into it — not <c>/opt/ml/code</c>, which images fill themselves.
/// <para>
/// Everything is assembled below <see cref="Base"/> (<c>/run/trainyard</c>, a private mount) and then
/// bound whole into the bubblewrap sandbox: bubblewrap runs inside the job's user namespace, where the
/// machine's paths (a home under /root, mode 0700) are not reachable. Paths inside the image are resolved
/// with openat2(RESOLVE_IN_ROOT) and mounts are placed on descriptors, so no symlink of the image ever
/// leads a mount (made by root outside the namespace) onto the machine.
/// </para>
/// <para>
/// Why the layers are attached for a moment: this kernel (6.18) refuses detached idmapped mounts as
/// overlay layers given by descriptor ("failed to clone lowerpath"), so each idmapped layer is attached
/// at a short path, named to the overlay with fsconfig's <c>lowerdir+</c> (one layer per call: no
/// 4096-byte option string, and each path is short, under fsconfig's 256 bytes), and detached again
/// once the overlay holds it. Kernels before 6.8 lack <c>lowerdir+</c>: there the layers go in one
/// classic <c>lowerdir=</c> option, which the short names keep under 4096 bytes for ~150 layers.
/// </para>
/// </summary>
public sealed class ImageRoot : IDisposable
{
    /// <summary>Where image roots are assembled (tmpfs; only mount points live here).</summary>
    public const string Base = "/run/trainyard";

    private static readonly Lock BaseGate = new();
    private static bool _basePrivate;
    private readonly string _upperDirectory;
    private readonly List<string> _mounts = [];
    private bool _disposed;

    private ImageRoot(string directory, string upperDirectory)
    {
        Workspace = directory;
        _upperDirectory = upperDirectory;
    }

    /// <summary>The per-host directory under <see cref="Base"/>.</summary>
    public string Workspace { get; }

    /// <summary>The assembled root: what the sandbox binds as <c>/</c>.</summary>
    public string Path => System.IO.Path.Combine(Workspace, "root");

    /// <summary>
    /// Assembles the root. <paramref name="layers"/> are bottom first; <paramref name="upperDirectory"/>
    /// is an empty directory of the host (on disk) for the writable layer; <paramref name="name"/> is a
    /// short unique name for this host.
    /// </summary>
    public static ImageRoot Create(IReadOnlyList<string> layers, UserNamespace userNamespace, string upperDirectory, string name)
    {
        EnsureBase();
        var dir = System.IO.Path.Combine(Base, name);
        RemoveStale(dir);
        System.IO.Directory.CreateDirectory(dir);
        var root = new ImageRoot(dir, upperDirectory);
        try
        {
            root.Mount(layers, userNamespace);
            return root;
        }
        catch
        {
            root.Dispose();
            throw;
        }
    }

    private void Mount(IReadOnlyList<string> layers, UserNamespace userNamespace)
    {
        var rootOwner = (int)userNamespace.Ids.Outside(0);
        var upper = System.IO.Path.Combine(_upperDirectory, "upper");
        var work = System.IO.Path.Combine(_upperDirectory, "work");
        System.IO.Directory.CreateDirectory(upper);
        System.IO.Directory.CreateDirectory(work);

        // The root directory takes its owner from the upper directory: root inside the namespace.
        Chown(upper, rootOwner);
        Chown(work, rootOwner);

        // overlayfs needs upper and work on one mount, at paths fsconfig accepts (under 256 bytes).
        var shortUpper = System.IO.Path.Combine(Workspace, "u");
        BindAt(_upperDirectory, shortUpper, recursive: false);
        var lowers = new List<string>();
        try
        {
            for (var i = layers.Count - 1; i >= 0; i--)
            {
                // overlayfs lists the top layer first.
                var target = System.IO.Path.Combine(Workspace, "l", (layers.Count - 1 - i).ToString(CultureInfo.InvariantCulture));
                AttachIdmapped(layers[i], target, userNamespace);
                lowers.Add(target);
            }

            var mountPoint = Path;
            System.IO.Directory.CreateDirectory(mountPoint);
            MountOverlay(lowers, System.IO.Path.Combine(shortUpper, "upper"), System.IO.Path.Combine(shortUpper, "work"), mountPoint);
            _mounts.Add(mountPoint);
        }
        finally
        {
            // The overlay keeps private clones of its layers: the attached idmapped mounts can go.
            foreach (var lower in lowers)
            {
                _ = Libc.Umount2(lower, Libc.MNT_DETACH);
                TryRemoveDirectory(lower);
            }

            _ = Libc.Umount2(shortUpper, Libc.MNT_DETACH);
            TryRemoveDirectory(shortUpper);
            TryRemoveDirectory(System.IO.Path.Combine(Workspace, "l"));
        }
    }

    private static void MountOverlay(IReadOnlyList<string> lowers, string upper, string work, string target)
    {
        var fs = Libc.FsOpen("overlay");
        if (fs < 0)
        {
            throw new IOException("fsopen(overlay) failed: " + Libc.Describe(Libc.LastError) + "; Trainyard needs overlayfs (modprobe overlay) and root to run images");
        }

        try
        {
            var plus = true;
            foreach (var lower in lowers)
            {
                if (Libc.FsConfigString(fs, "lowerdir+", lower) != 0)
                {
                    if (Libc.LastError == Libc.EINVAL && lower == lowers[0])
                    {
                        plus = false; // a kernel before 6.8
                        break;
                    }

                    throw new IOException($"overlay lowerdir+ {lower}: {Libc.Describe(Libc.LastError)}");
                }
            }

            if (!plus)
            {
                Libc.Close(fs);
                fs = -1;
                var options = $"lowerdir={string.Join(':', lowers)},upperdir={upper},workdir={work}";
                if (Encoding.UTF8.GetByteCount(options) >= 4096)
                {
                    throw new ImagePullException($"the image has {lowers.Count} layers, more than this kernel's overlay options can name (it lacks lowerdir+; Linux 6.8 has it)");
                }

                if (Libc.Mount("overlay", target, "overlay", 0, options) != 0)
                {
                    throw new IOException("mount overlay failed: " + Libc.Describe(Libc.LastError));
                }

                return;
            }

            Config(fs, "upperdir", upper);
            Config(fs, "workdir", work);
            if (Libc.FsConfigCreate(fs) != 0)
            {
                throw new IOException("creating the overlay failed: " + Libc.Describe(Libc.LastError) + " (see dmesg)");
            }

            var mount = Libc.FsMount(fs);
            if (mount < 0)
            {
                throw new IOException("fsmount failed: " + Libc.Describe(Libc.LastError));
            }

            try
            {
                if (Libc.MoveMount(mount, "", Libc.AT_FDCWD, target, Libc.MOVE_MOUNT_F_EMPTY_PATH) != 0)
                {
                    throw new IOException("move_mount of the overlay failed: " + Libc.Describe(Libc.LastError));
                }
            }
            finally
            {
                Libc.Close(mount);
            }
        }
        finally
        {
            if (fs >= 0)
            {
                Libc.Close(fs);
            }
        }
    }

    private static void Config(int fs, string key, string value)
    {
        if (Libc.FsConfigString(fs, key, value) != 0)
        {
            throw new IOException($"overlay {key}={value}: {Libc.Describe(Libc.LastError)}");
        }
    }

    /// <summary>Attaches <paramref name="source"/> at <paramref name="target"/> seen through the namespace's id mapping.</summary>
    private static void AttachIdmapped(string source, string target, UserNamespace userNamespace)
    {
        System.IO.Directory.CreateDirectory(target);
        var tree = Libc.OpenTree(Libc.AT_FDCWD, source, Libc.OPEN_TREE_CLONE | Libc.OPEN_TREE_CLOEXEC);
        if (tree < 0)
        {
            throw new IOException($"open_tree {source}: {Libc.Describe(Libc.LastError)}");
        }

        try
        {
            if (Libc.SetIdmap(tree, userNamespace.Fd) != 0)
            {
                throw new IOException($"idmapping {source} failed: {Libc.Describe(Libc.LastError)}; the image cache's file system must support idmapped mounts (ext4, xfs, btrfs on Linux 5.12+)");
            }

            if (Libc.MoveMount(tree, "", Libc.AT_FDCWD, target, Libc.MOVE_MOUNT_F_EMPTY_PATH) != 0)
            {
                throw new IOException($"attaching the idmapped {source} failed: {Libc.Describe(Libc.LastError)}");
            }
        }
        finally
        {
            Libc.Close(tree);
        }
    }

    /// <summary>Bind-mounts a directory or file of the machine at <paramref name="pathInImage"/> of the root, resolved inside it.</summary>
    public void Bind(string source, string pathInImage, bool directory, int owner, bool recursive = true)
    {
        var target = Prepare(pathInImage, directory, owner);
        try
        {
            var tree = Libc.OpenTree(Libc.AT_FDCWD, source, Libc.OPEN_TREE_CLONE | Libc.OPEN_TREE_CLOEXEC | (recursive ? (uint)Libc.AT_RECURSIVE : 0));
            if (tree < 0)
            {
                throw new IOException($"open_tree {source}: {Libc.Describe(Libc.LastError)}");
            }

            try
            {
                if (Libc.MoveMount(tree, "", target, "", Libc.MOVE_MOUNT_F_EMPTY_PATH | Libc.MOVE_MOUNT_T_EMPTY_PATH) != 0)
                {
                    throw new IOException($"mounting {source} at {pathInImage}: {Libc.Describe(Libc.LastError)}");
                }
            }
            finally
            {
                Libc.Close(tree);
            }
        }
        finally
        {
            Libc.Close(target);
        }
    }

    /// <summary>Reads a file of the image's root, resolved inside it; null when it is missing.</summary>
    public string? ReadFile(string pathInImage)
    {
        var rootFd = OpenRoot();
        try
        {
            var fd = Libc.OpenAt2(rootFd, pathInImage, Libc.O_RDONLY | Libc.O_CLOEXEC, 0, Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
            if (fd < 0)
            {
                return null;
            }

            using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true);
            using var stream = new FileStream(handle, FileAccess.Read);
            using var reader = new StreamReader(stream);
            var buffer = new char[1 << 20];
            var n = reader.ReadBlock(buffer, 0, buffer.Length);
            return new string(buffer, 0, n);
        }
        catch (IOException)
        {
            return null;
        }
        finally
        {
            Libc.Close(rootFd);
        }
    }

    /// <summary>Creates <paramref name="pathInImage"/> (and its missing parents) inside the root; returns an O_PATH descriptor of it.</summary>
    private int Prepare(string pathInImage, bool directory, int owner)
    {
        var rootFd = OpenRoot();
        try
        {
            var parts = pathInImage.Trim('/').Split('/');
            var current = "";
            for (var i = 0; i < parts.Length; i++)
            {
                var last = i == parts.Length - 1;
                var parent = Resolve(rootFd, current);
                try
                {
                    if (!last || directory)
                    {
                        if (Libc.MkdirAt(parent, parts[i], 0x1ED) == 0)
                        {
                            _ = Libc.FchownAt(parent, parts[i], owner, owner, Libc.AT_SYMLINK_NOFOLLOW);
                        }
                    }
                    else
                    {
                        var fd = Libc.OpenAt(parent, parts[i], Libc.O_WRONLY | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x1A4);
                        if (fd < 0 && Libc.LastError is Libc.ELOOP or Libc.EISDIR)
                        {
                            // A symlink (or a directory) where a file is mounted: replace it in the writable layer.
                            _ = Libc.UnlinkAt(parent, parts[i], 0);
                            _ = Libc.UnlinkAt(parent, parts[i], Libc.AT_REMOVEDIR);
                            fd = Libc.OpenAt(parent, parts[i], Libc.O_WRONLY | Libc.O_CREAT | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0x1A4);
                        }

                        if (fd < 0)
                        {
                            throw new IOException($"cannot create {pathInImage} in the image: {Libc.Describe(Libc.LastError)}");
                        }

                        Libc.Close(fd);
                    }
                }
                finally
                {
                    Libc.Close(parent);
                }

                current = current.Length == 0 ? parts[i] : current + "/" + parts[i];
            }

            var target = Libc.OpenAt2(rootFd, current, Libc.O_PATH | Libc.O_CLOEXEC | (directory ? Libc.O_DIRECTORY : Libc.O_NOFOLLOW), 0,
                Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
            if (target < 0)
            {
                throw new IOException($"cannot open {pathInImage} in the image: {Libc.Describe(Libc.LastError)}");
            }

            return target;
        }
        finally
        {
            Libc.Close(rootFd);
        }
    }

    private static int Resolve(int rootFd, string path)
    {
        var fd = Libc.OpenAt2(rootFd, path.Length == 0 ? "." : path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0,
            Libc.RESOLVE_IN_ROOT | Libc.RESOLVE_NO_MAGICLINKS);
        if (fd < 0)
        {
            throw new IOException($"cannot open /{path} in the image: {Libc.Describe(Libc.LastError)}");
        }

        return fd;
    }

    private int OpenRoot()
    {
        var fd = Libc.OpenAt(Libc.AT_FDCWD, Path, Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open {Path}: {Libc.Describe(Libc.LastError)}");
        }

        return fd;
    }

    private static void BindAt(string source, string target, bool recursive)
    {
        System.IO.Directory.CreateDirectory(target);
        if (Libc.Mount(source, target, null, Libc.MS_BIND | (recursive ? Libc.MS_REC : 0), null) != 0)
        {
            throw new IOException($"bind {source} → {target}: {Libc.Describe(Libc.LastError)}");
        }
    }

    /// <summary>Makes <see cref="Base"/> a private mount, so what is mounted below it stays out of other mount namespaces.</summary>
    private static void EnsureBase()
    {
        lock (BaseGate)
        {
            if (_basePrivate)
            {
                return;
            }

            System.IO.Directory.CreateDirectory(Base);
            File.SetUnixFileMode(Base, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            using (var setup = Cache.FileLock.AcquireAsync(System.IO.Path.Combine("/run", "trainyard.lock"), exclusive: true, CancellationToken.None).GetAwaiter().GetResult())
            {
                if (!IsMountPoint(Base))
                {
                    BindAt(Base, Base, recursive: false);
                }

                if (Libc.Mount(null, Base, null, Libc.MS_PRIVATE, null) != 0)
                {
                    throw new IOException($"making {Base} private failed: {Libc.Describe(Libc.LastError)}");
                }
            }

            _basePrivate = true;
        }
    }

    private static bool IsMountPoint(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(l => l.Split(' ') is { Length: > 4 } f && f[4] == path);

    /// <summary>Unmounts what a host that died left under <paramref name="dir"/>.</summary>
    private static void RemoveStale(string dir)
    {
        if (!System.IO.Directory.Exists(dir))
        {
            return;
        }

        foreach (var mount in File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f => f.Length > 4 && (f[4] == dir || f[4].StartsWith(dir + "/", StringComparison.Ordinal))).Select(f => f[4]).OrderByDescending(p => p.Length))
        {
            _ = Libc.Umount2(mount, Libc.MNT_DETACH);
        }

        try
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
            // still busy: the next create will fail clearly
        }
    }

    private static void Chown(string path, int owner)
    {
        if (Libc.FchownAt(Libc.AT_FDCWD, path, owner, owner, Libc.AT_SYMLINK_NOFOLLOW) != 0)
        {
            throw new IOException($"chown {path}: {Libc.Describe(Libc.LastError)}");
        }
    }

    private static void TryRemoveDirectory(string path)
    {
        try
        {
            System.IO.Directory.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Unmounts the root (and what is mounted in it) and discards the writable layer.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var mount in _mounts)
        {
            _ = Libc.Umount2(mount, Libc.MNT_DETACH);
        }

        RemoveStale(Workspace);
        Cache.ImageCache.DeleteTree(_upperDirectory);
    }
}
