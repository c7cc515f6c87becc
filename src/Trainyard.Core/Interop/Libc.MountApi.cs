using System.Runtime.InteropServices;

namespace Trainyard.Interop;

/// <summary>
/// The new mount API (open_tree, mount_setattr with MOUNT_ATTR_IDMAP, move_mount, fsopen/fsconfig/fsmount),
/// for the idmapped overlay roots of image hosts. Syscall numbers above 424 are shared by every Linux
/// architecture.
/// </summary>
internal static unsafe partial class Libc
{
    public const uint OPEN_TREE_CLONE = 1;
    public const uint OPEN_TREE_CLOEXEC = 0x80000;
    public const uint MOVE_MOUNT_F_EMPTY_PATH = 0x4;
    public const uint MOVE_MOUNT_T_EMPTY_PATH = 0x40;
    public const ulong MOUNT_ATTR_IDMAP = 0x100000;
    public const uint FSOPEN_CLOEXEC = 1;
    public const uint FSMOUNT_CLOEXEC = 1;
    public const uint FSCONFIG_SET_STRING = 1;
    public const uint FSCONFIG_CMD_CREATE = 6;

    public const ulong MS_BIND = 0x1000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_PRIVATE = 1 << 18;

    private const long SYS_open_tree = 428;
    private const long SYS_move_mount = 429;
    private const long SYS_fsopen = 430;
    private const long SYS_fsconfig = 431;
    private const long SYS_fsmount = 432;
    private const long SYS_mount_setattr = 442;

    [StructLayout(LayoutKind.Sequential)]
    private struct MountAttr
    {
        public ulong AttrSet;
        public ulong AttrClr;
        public ulong Propagation;
        public ulong UsernsFd;
    }

    public static int OpenTree(int dirFd, string path, uint flags)
    {
        var bytes = Utf8(path);
        fixed (byte* p = bytes)
        {
            return (int)Syscall(SYS_open_tree, dirFd, (long)p, flags, 0, 0);
        }
    }

    public static int SetIdmap(int treeFd, int usernsFd)
    {
        var attr = new MountAttr { AttrSet = MOUNT_ATTR_IDMAP, UsernsFd = (ulong)usernsFd };
        var empty = Utf8("");
        fixed (byte* p = empty)
        {
            return (int)Syscall(SYS_mount_setattr, treeFd, (long)p, AT_EMPTY_PATH, (long)&attr, sizeof(MountAttr));
        }
    }

    public static int MoveMount(int fromFd, string fromPath, int toFd, string toPath, uint flags)
    {
        var from = Utf8(fromPath);
        var to = Utf8(toPath);
        fixed (byte* f = from)
        fixed (byte* t = to)
        {
            return (int)Syscall(SYS_move_mount, fromFd, (long)f, toFd, (long)t, flags);
        }
    }

    public static int FsOpen(string fsName)
    {
        var name = Utf8(fsName);
        fixed (byte* n = name)
        {
            return (int)Syscall(SYS_fsopen, (long)n, FSOPEN_CLOEXEC, 0, 0, 0);
        }
    }

    public static int FsConfigString(int fsFd, string key, string value)
    {
        var k = Utf8(key);
        var v = Utf8(value);
        fixed (byte* kp = k)
        fixed (byte* vp = v)
        {
            return (int)Syscall(SYS_fsconfig, fsFd, FSCONFIG_SET_STRING, (long)kp, (long)vp, 0);
        }
    }

    public static int FsConfigCreate(int fsFd) => (int)Syscall(SYS_fsconfig, fsFd, FSCONFIG_CMD_CREATE, 0, 0, 0);

    public static int FsMount(int fsFd) => (int)Syscall(SYS_fsmount, fsFd, FSMOUNT_CLOEXEC, 0, 0, 0);
}
