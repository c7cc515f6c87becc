using System.Runtime.InteropServices;
using System.Text;
using Trainyard.Interop;
using static Trainyard.DataPlane.FastFile.FuseProtocol;

namespace Trainyard.DataPlane.FastFile;

/// <summary>The request loop and every request but READ.</summary>
public sealed partial class FastFileMount
{
    private const int MaxWrite = 128 << 10;

    // The kernel refuses a read of the device into a buffer smaller than a maximal WRITE request.
    private const int RequestBufferSize = MaxWrite + 8192;

    private static readonly int InHeaderSize = Marshal.SizeOf<InHeader>();

    private unsafe void ServeLoop()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(RequestBufferSize, pinned: true);
        fixed (byte* p = buffer)
        {
            var pfd = new Libc.PollFd { Fd = _fd, Events = Libc.POLLIN };
            while (!_stopping)
            {
                // Read first and poll only when there is nothing to read: a busy mount costs one
                // syscall a request, and an idle thread still notices _stopping within the poll's
                // timeout, so the device is never closed under a thread that is reading it.
                var n = Libc.Read(_fd, p, (nuint)buffer.Length);
                if (n < 0)
                {
                    var errno = Libc.LastError;
                    if (errno == Libc.EAGAIN)
                    {
                        pfd.REvents = 0;
                        var ready = Libc.Poll(&pfd, 1, 200);
                        if (ready < 0 && Libc.LastError != Libc.EINTR)
                        {
                            Log.DeviceFailed(_logger, Libc.Describe(Libc.LastError));
                            return;
                        }

                        if (ready > 0 && (pfd.REvents & Libc.POLLIN) == 0)
                        {
                            return; // POLLERR: the connection is gone (unmounted or aborted)
                        }

                        continue;
                    }

                    if (errno is Libc.EINTR or Libc.ENOENT)
                    {
                        continue; // interrupted, or the request was withdrawn before we read it
                    }

                    if (errno != Libc.ENODEV)
                    {
                        Log.DeviceFailed(_logger, Libc.Describe(errno));
                    }

                    return;
                }

                try
                {
                    Dispatch(new ReadOnlySpan<byte>(p, (int)n));
                }
#pragma warning disable CA1031 // one bad request must not stop the file system
                catch (Exception e)
#pragma warning restore CA1031
                {
                    Log.DeviceFailed(_logger, e.ToString());
                }
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> request)
    {
        var h = MemoryMarshal.Read<InHeader>(request);
        var arg = request[InHeaderSize..(int)Math.Min(h.Len, (uint)request.Length)];
        switch (h.Opcode)
        {
            case Opcode.Init:
                OnInit(h.Unique, ReadInit(arg));
                break;
            case Opcode.Lookup:
                OnLookup(h, arg);
                break;
            case Opcode.GetAttr:
                if (_tree.TryGet(h.NodeId, out _))
                {
                    Reply(h.Unique, new AttrOut { AttrValid = AttrSeconds, Attr = AttrOf((int)h.NodeId - 1) });
                }
                else
                {
                    Error(h.Unique, Libc.ENOENT);
                }

                break;
            case Opcode.Open:
                OnOpen(h, MemoryMarshal.Read<OpenIn>(arg));
                break;
            case Opcode.Read:
                OnRead(h.Unique, MemoryMarshal.Read<ReadIn>(arg));
                break;
            case Opcode.Release:
                _handles.TryRemove(MemoryMarshal.Read<ReleaseIn>(arg).Fh, out _);
                Error(h.Unique, 0);
                break;
            case Opcode.OpenDir:
                if (!_tree.TryGet(h.NodeId, out var dir))
                {
                    Error(h.Unique, Libc.ENOENT);
                }
                else if (!dir.IsDirectory)
                {
                    Error(h.Unique, Libc.ENOTDIR);
                }
                else
                {
                    Reply(h.Unique, new OpenOut { Fh = 0, OpenFlags = FopenKeepCache | FopenCacheDir });
                }

                break;
            case Opcode.ReadDir:
                OnReadDir(h, MemoryMarshal.Read<ReadIn>(arg));
                break;
            case Opcode.ReleaseDir:
                Error(h.Unique, 0);
                break;
            case Opcode.StatFs:
                Reply(h.Unique, new StatFsOut
                {
                    Blocks = (ulong)((_tree.TotalBytes + 4095) / 4096),
                    Files = (ulong)_tree.Count,
                    Bsize = 4096,
                    Frsize = 4096,
                    NameLen = 255,
                });
                break;
            case Opcode.Interrupt:
                if (_pending.TryGetValue(MemoryMarshal.Read<InterruptIn>(arg).Unique, out var pending))
                {
                    pending.Cancel();
                }

                break; // INTERRUPT itself is never answered
            case Opcode.Forget:
            case Opcode.BatchForget:
                break; // nodes live as long as the mount: nothing to forget, and FORGET is never answered
            case Opcode.Destroy:
                Error(h.Unique, 0);
                break;
            default:
                // ENOSYS also tells the kernel not to ask again (FLUSH, ACCESS, GETXATTR, …).
                Error(h.Unique, Libc.ENOSYS);
                break;
        }
    }

    private static InitIn ReadInit(ReadOnlySpan<byte> arg)
    {
        // Before 7.36 the kernel sends the 16-byte form, without flags2.
        if (arg.Length >= Marshal.SizeOf<InitIn>())
        {
            return MemoryMarshal.Read<InitIn>(arg);
        }

        Span<byte> padded = stackalloc byte[Marshal.SizeOf<InitIn>()];
        arg.CopyTo(padded);
        return MemoryMarshal.Read<InitIn>(padded);
    }

    private void OnInit(ulong unique, InitIn init)
    {
        // AsyncDio: a large direct read is sent as parallel requests of max_read bytes each.
        var wanted = AsyncRead | AsyncDio | ParallelDirOps | MaxPages | InitExt;
        var flags2 = (init.Flags & InitExt) != 0 ? init.Flags2 & DirectIoAllowMmap : 0;

        // Files bypass the kernel's page cache (FOPEN_DIRECT_IO) when mmap still works that way (Linux
        // 6.6+): a read is then one copy from a cached block straight into the reader's buffer instead
        // of two (into the page cache, then out of it), which is most of the cost of a local store.
        _directIo = !_options.KernelPageCache && (flags2 & DirectIoAllowMmap) != 0;
        Reply(unique, new InitOut
        {
            Major = KernelMajor,
            Minor = Math.Min(init.Minor, OurMinor),
            MaxReadahead = init.MaxReadahead,
            Flags = init.Flags & wanted,
            Flags2 = flags2,
            MaxBackground = 64,
            CongestionThreshold = 48,
            MaxWrite = MaxWrite,
            TimeGran = 1,
            MaxPages = (ushort)(MaxRead / 4096),
        });
        _initialized.TrySetResult();
    }

    private void OnLookup(in InHeader h, ReadOnlySpan<byte> arg)
    {
        var end = arg.IndexOf((byte)0);
        var name = Encoding.UTF8.GetString(end < 0 ? arg : arg[..end]);
        if (!_tree.TryGet(h.NodeId, out var parent))
        {
            Error(h.Unique, Libc.ENOENT);
        }
        else if (!parent.IsDirectory)
        {
            Error(h.Unique, Libc.ENOTDIR);
        }
        else if (parent.Children!.TryGetValue(name, out var child))
        {
            Reply(h.Unique, new EntryOut
            {
                NodeId = (ulong)child + 1,
                EntryValid = AttrSeconds,
                AttrValid = AttrSeconds,
                Attr = AttrOf(child),
            });
        }
        else
        {
            Error(h.Unique, Libc.ENOENT);
        }
    }

    private void OnOpen(in InHeader h, OpenIn open)
    {
        if (!_tree.TryGet(h.NodeId, out var node))
        {
            Error(h.Unique, Libc.ENOENT);
        }
        else if (node.IsDirectory)
        {
            Error(h.Unique, Libc.EISDIR);
        }
        else if ((open.Flags & 3) != 0)
        {
            Error(h.Unique, Libc.EROFS);
        }
        else
        {
            var fh = (ulong)Interlocked.Increment(ref _nextHandle);
            _handles[fh] = new OpenFile((int)h.NodeId - 1);
            Reply(h.Unique, new OpenOut { Fh = fh, OpenFlags = _directIo ? FopenDirectIo : FopenKeepCache });
        }
    }

    private void OnReadDir(in InHeader h, ReadIn read)
    {
        if (!_tree.TryGet(h.NodeId, out var dir) || !dir.IsDirectory)
        {
            Error(h.Unique, Libc.ENOTDIR);
            return;
        }

        var buffer = new byte[Math.Min(read.Size, 1u << 20)];
        var used = 0;
        var self = (int)h.NodeId - 1;
        for (var i = (int)read.Offset; i < dir.Order!.Count + 2; i++)
        {
            var (name, index) = i switch
            {
                0 => (".", self),
                1 => ("..", self == 0 ? 0 : dir.Parent),
                _ => (_tree[dir.Order[i - 2]].Name, dir.Order[i - 2]),
            };
            var nameLength = Encoding.UTF8.GetByteCount(name);
            var size = (DirentHeaderSize + nameLength + 7) & ~7;
            if (used + size > buffer.Length)
            {
                break;
            }

            var span = buffer.AsSpan(used, size);
            span.Clear();
            MemoryMarshal.Write(span, (ulong)index + 1);
            MemoryMarshal.Write(span[8..], (ulong)i + 1);
            MemoryMarshal.Write(span[16..], (uint)nameLength);
            MemoryMarshal.Write(span[20..], _tree[index].IsDirectory ? 4u : 8u); // DT_DIR, DT_REG
            Encoding.UTF8.GetBytes(name, span[DirentHeaderSize..]);
            used += size;
        }

        Reply(h.Unique, buffer.AsSpan(0, used));
    }

    private ulong AttrSeconds => (ulong)_options.AttributeTimeout.TotalSeconds;

    private Attr AttrOf(int index)
    {
        var node = _tree[index];
        var ticks = node.LastModified.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = (ulong)Math.Max(0, ticks / TimeSpan.TicksPerSecond);
        var nanos = (uint)(Math.Max(0, ticks % TimeSpan.TicksPerSecond) * 100);
        return new Attr
        {
            Ino = (ulong)index + 1,
            Size = (ulong)node.Size,
            Blocks = (ulong)((node.Size + 511) / 512),
            Atime = seconds,
            Mtime = seconds,
            Ctime = seconds,
            AtimeNsec = nanos,
            MtimeNsec = nanos,
            CtimeNsec = nanos,
            Mode = node.IsDirectory ? ModeDirectory | 0x16D /* 0555 */ : ModeRegular | 0x124 /* 0444 */,
            Nlink = node.IsDirectory ? 2u : 1u,
            Uid = _uid,
            Gid = _gid,
            BlkSize = 128 << 10,
        };
    }

    private unsafe void Reply<T>(ulong unique, T payload)
        where T : unmanaged =>
        Reply(unique, new ReadOnlySpan<byte>(&payload, sizeof(T)));

    private unsafe void Reply(ulong unique, ReadOnlySpan<byte> payload)
    {
        fixed (byte* p = payload)
        {
            Send(unique, 0, [(Ptr: (nint)p, Length: payload.Length)]);
        }
    }

    private void Error(ulong unique, int errno) => Send(unique, errno, []);

    /// <summary>Writes one reply (header and payload pieces, which the caller keeps pinned) with a single writev.</summary>
    private unsafe void Send(ulong unique, int errno, ReadOnlySpan<(nint Ptr, int Length)> pieces)
    {
        var length = sizeof(OutHeader);
        foreach (var piece in pieces)
        {
            length += piece.Length;
        }

        var header = new OutHeader { Len = (uint)length, Error = -errno, Unique = unique };
        var iov = stackalloc Libc.IoVec[pieces.Length + 1];
        iov[0] = new Libc.IoVec { Base = &header, Length = (nuint)sizeof(OutHeader) };
        for (var i = 0; i < pieces.Length; i++)
        {
            iov[i + 1] = new Libc.IoVec { Base = (void*)pieces[i].Ptr, Length = (nuint)pieces[i].Length };
        }

        var added = false;
        try
        {
            _device.DangerousAddRef(ref added);
            // ENOENT: the request was interrupted meanwhile; ENODEV: the file system is gone. Both are fine.
            _ = Libc.WriteV(_fd, iov, pieces.Length + 1);
        }
        catch (ObjectDisposedException)
        {
            // unmounted while this reply was being prepared
        }
        finally
        {
            if (added)
            {
                _device.DangerousRelease();
            }
        }
    }
}
