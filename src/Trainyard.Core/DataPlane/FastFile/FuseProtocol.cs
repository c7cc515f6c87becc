using System.Runtime.InteropServices;

namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// The parts of the kernel's FUSE protocol (include/uapi/linux/fuse.h, protocol 7.31) that a read-only
/// file system needs. Layouts are the kernel's, little-endian, 64-bit.
/// </summary>
internal static class FuseProtocol
{
    public const uint KernelMajor = 7;
    public const uint OurMinor = 39;
    public const ulong RootId = 1;

    public enum Opcode : uint
    {
        Lookup = 1,
        Forget = 2,
        GetAttr = 3,
        Open = 14,
        Read = 15,
        StatFs = 17,
        Release = 18,
        Flush = 25,
        Init = 26,
        OpenDir = 27,
        ReadDir = 28,
        ReleaseDir = 29,
        Access = 34,
        Interrupt = 36,
        Destroy = 38,
        BatchForget = 42,
    }

    // init flags
    public const uint AsyncRead = 1 << 0;
    public const uint AtomicOTrunc = 1 << 3;
    public const uint AsyncDio = 1 << 15;
    public const uint ParallelDirOps = 1 << 18;
    public const uint MaxPages = 1 << 22;
    public const uint InitExt = 1 << 30;

    // init flags2 (bits 32.. of the 64-bit flags)
    public const uint DirectIoAllowMmap = 1 << (36 - 32);

    // open flags
    public const uint FopenDirectIo = 1 << 0;
    public const uint FopenKeepCache = 1 << 1;
    public const uint FopenCacheDir = 1 << 3;

    public const uint ModeDirectory = 0x4000;
    public const uint ModeRegular = 0x8000;

    [StructLayout(LayoutKind.Sequential)]
    public struct InHeader
    {
        public uint Len;
        public Opcode Opcode;
        public ulong Unique;
        public ulong NodeId;
        public uint Uid;
        public uint Gid;
        public uint Pid;
        public ushort TotalExtLen;
        public ushort Padding;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct OutHeader
    {
        public uint Len;
        public int Error;
        public ulong Unique;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct InitIn
    {
        public uint Major;
        public uint Minor;
        public uint MaxReadahead;
        public uint Flags;
        public uint Flags2; // only when Flags has InitExt (protocol 7.36)
    }

    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct InitOut
    {
        public uint Major;
        public uint Minor;
        public uint MaxReadahead;
        public uint Flags;
        public ushort MaxBackground;
        public ushort CongestionThreshold;
        public uint MaxWrite;
        public uint TimeGran;
        public ushort MaxPages;
        public ushort MapAlignment;
        public uint Flags2;
        public fixed uint Unused[7];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Attr
    {
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong Atime;
        public ulong Mtime;
        public ulong Ctime;
        public uint AtimeNsec;
        public uint MtimeNsec;
        public uint CtimeNsec;
        public uint Mode;
        public uint Nlink;
        public uint Uid;
        public uint Gid;
        public uint Rdev;
        public uint BlkSize;
        public uint Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct EntryOut
    {
        public ulong NodeId;
        public ulong Generation;
        public ulong EntryValid;
        public ulong AttrValid;
        public uint EntryValidNsec;
        public uint AttrValidNsec;
        public Attr Attr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct AttrOut
    {
        public ulong AttrValid;
        public uint AttrValidNsec;
        public uint Dummy;
        public Attr Attr;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct OpenIn
    {
        public uint Flags;
        public uint OpenFlags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct OpenOut
    {
        public ulong Fh;
        public uint OpenFlags;
        public uint Padding;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ReadIn
    {
        public ulong Fh;
        public ulong Offset;
        public uint Size;
        public uint ReadFlags;
        public ulong LockOwner;
        public uint Flags;
        public uint Padding;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct ReleaseIn
    {
        public ulong Fh;
        public uint Flags;
        public uint ReleaseFlags;
        public ulong LockOwner;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct InterruptIn
    {
        public ulong Unique;
    }

    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct StatFsOut
    {
        public ulong Blocks;
        public ulong Bfree;
        public ulong Bavail;
        public ulong Files;
        public ulong Ffree;
        public uint Bsize;
        public uint NameLen;
        public uint Frsize;
        public uint Padding;
        public fixed uint Spare[6];
    }

    /// <summary>struct fuse_dirent without its name: ino, off, namelen, type; the name follows, padded to 8.</summary>
    public const int DirentHeaderSize = 24;
}
