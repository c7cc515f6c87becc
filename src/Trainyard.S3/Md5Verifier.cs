using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trainyard.S3;

/// <summary>
/// Hashes downloaded files with <see cref="Md5Lanes"/>, sixteen at a time, on one background thread,
/// following each download as its bytes land: a download tells its <see cref="Md5Job"/> how long the
/// written prefix of the file is, and the verifier hashes that prefix straight from the page cache
/// through a read-only mapping of the file (no copy). A lane with too little new data sits out while the
/// others go on; a finished message frees its lane for the next file. One verifier serves the process.
/// </summary>
internal sealed unsafe partial class Md5Verifier
{
    // Each lane maps its file a window at a time: mapped pages count in the server's resident memory (a
    // whole-file mapping of 8 × 128 MiB took its peak from 250 MB to 930 MB), so at most 16 × 2 MiB are mapped.
    private const long Window = 2 * 1024 * 1024;

    // A lane joins a step once this much is written and not yet hashed (or its download is complete).
    private const int MinimumRun = 256 * 1024;

    // A download waiting for its digest holds a download slot; after this long its lane is hashed even if few others are ready.
    private const long UrgentAfterMs = 15;

    // While downloads run the verifier sweeps this often: it sleeps while bytes pile up in every lane, then
    // hashes them in lockstep, so most kernel steps carry many lanes (each step costs the same for 1 lane or
    // 16). Waking on each download's progress instead ran most steps with two or three lanes: a third of the
    // throughput. A finished download, a new file and a cancellation wake it at once.
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(4);

    private static readonly Lazy<Md5Verifier> LazyShared = new(() => new Md5Verifier());

    private readonly ConcurrentQueue<Md5Job> _queue = new();
    // No spinning before it sleeps: it wakes every few milliseconds while downloads run, and each spin is
    // CPU taken from the transfer it is checking.
    private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
    private readonly Md5Job?[] _lanes = new Md5Job?[Md5Lanes.Lanes];
    private readonly byte*[] _maps = new byte*[Md5Lanes.Lanes];
    private readonly long[] _mapStart = new long[Md5Lanes.Lanes];
    private readonly long[] _mapLength = new long[Md5Lanes.Lanes];
    private readonly uint[] _state = new uint[4 * Md5Lanes.Lanes];

    private Md5Verifier() => new Thread(Run) { IsBackground = true, Name = "trainyard-md5" }.Start();

    /// <summary>The process's verifier (its thread starts on first use).</summary>
    public static Md5Verifier Shared => LazyShared.Value;

    /// <summary>Kernel calls, block steps and lane-blocks hashed so far (for benchmarks: lane-blocks / blocks = lanes filled per step).</summary>
    internal static (long Calls, long Blocks, long LaneBlocks) Stats;

    /// <summary>Starts hashing <paramref name="file"/> (of <paramref name="size"/> bytes) as its prefix is reported written.</summary>
    public Md5Job Start(SafeFileHandle file, long size)
    {
        var job = new Md5Job(this, file, size);
        _queue.Enqueue(job);
        _signal.Set();
        return job;
    }

    internal void Wake() => _signal.Set();

    private void Run()
    {
        var pointers = new IntPtr[Md5Lanes.Lanes];
        while (true)
        {
            _signal.Reset();
            Admit();
            var ready = 0;
            var pending = 0;
            var urgent = false;
            var blocks = long.MaxValue;
            var finished = false;
            var now = Environment.TickCount64;
            for (var lane = 0; lane < Md5Lanes.Lanes; lane++)
            {
                var job = _lanes[lane];
                if (job is null)
                {
                    continue;
                }

                if (job.IsCancelled)
                {
                    Release(lane, job, null, null);
                    continue;
                }

                var written = job.Written;
                var complete = written == job.Size;
                if (!MapWindow(lane, job))
                {
                    continue;
                }

                // Steps stop at the window's end (a multiple of the block size), where the next window is mapped.
                var windowEnd = _mapStart[lane] + _mapLength[lane];
                var run = (Math.Min(written, windowEnd) - job.HashedBytes) / Md5Lanes.BlockSize;
                var toWindowEnd = written >= windowEnd && windowEnd < job.Size;
                if (run > 0 || !complete)
                {
                    // Bytes to hash now or still to come: a lane that just ran dry must not let the others
                    // go on without it (that cascades down to steps of one lane).
                    pending |= 1 << lane;
                }

                if (complete && now - job.FinishedWritingAt >= UrgentAfterMs)
                {
                    urgent = true;
                }

                if (run > 0 && (complete || toWindowEnd || run * Md5Lanes.BlockSize >= MinimumRun))
                {
                    ready |= 1 << lane;
                    blocks = Math.Min(blocks, run);
                    pointers[lane] = (IntPtr)(_maps[lane] + (job.HashedBytes - _mapStart[lane]));
                }
                else if (complete)
                {
                    // Every whole block is hashed; only a partial block (or nothing) is left: pad and finish.
                    var tail = new ReadOnlySpan<byte>(_maps[lane] + (job.HashedBytes - _mapStart[lane]), (int)(job.Size - job.HashedBytes));
                    Release(lane, job, Md5Lanes.Finish(_state, lane, tail, job.Size), null);
                    finished = true;
                }
            }

            // Hash when at least half the lanes with bytes to hash are ready, or a finished download has waited
            // long enough; otherwise let the laggards catch up.
            if (ready != 0 && (urgent || BitOperations.PopCount((uint)ready) >= Math.Min(8, BitOperations.PopCount((uint)pending))))
            {
                // Bounded steps, so a new file or a cancellation waits for at most ~1 MiB per lane.
                var step = (int)Math.Min(blocks, 16 * 1024);
                Md5Lanes.Compress(_state, pointers, step, ready);
                Stats.Calls++;
                Stats.Blocks += step;
                Stats.LaneBlocks += (long)step * BitOperations.PopCount((uint)ready);
                for (var lane = 0; lane < Md5Lanes.Lanes; lane++)
                {
                    if ((ready & (1 << lane)) != 0)
                    {
                        _lanes[lane]!.HashedBytes += (long)step * Md5Lanes.BlockSize;
                    }
                }
            }
            else if (!finished)
            {
                // Nothing worth hashing until more bytes land (or a new file arrives).
                if (Array.TrueForAll(_lanes, l => l is null))
                {
                    _signal.Wait();
                }
                else
                {
                    _signal.Wait(SweepInterval);
                }
            }
        }
    }

    private void Admit()
    {
        for (var lane = 0; lane < Md5Lanes.Lanes && !_queue.IsEmpty; lane++)
        {
            if (_lanes[lane] is not null || !_queue.TryDequeue(out var job))
            {
                continue;
            }

            if (job.IsCancelled)
            {
                job.Completion.TrySetCanceled();
                lane--;
                continue;
            }

            _lanes[lane] = job;
            Md5Lanes.Initialize(_state, lane);
        }
    }

    private void Release(int lane, Md5Job job, byte[]? digest, Exception? error)
    {
        Unmap(lane);

        _lanes[lane] = null;
        if (digest is not null)
        {
            job.Completion.TrySetResult(digest);
        }
        else if (error is not null)
        {
            job.Completion.TrySetException(error);
        }
        else
        {
            job.Completion.TrySetCanceled();
        }
    }

    /// <summary>
    /// Maps the window of the lane's file that holds its next unhashed byte (read-only, shared with the page
    /// cache). The file is preallocated but only as long as what has been written; the verifier only ever
    /// touches bytes below the written prefix, so no page it reads lies past the end of the file.
    /// </summary>
    private bool MapWindow(int lane, Md5Job job)
    {
        if (job.Size == 0 || (_maps[lane] is not null && job.HashedBytes < _mapStart[lane] + _mapLength[lane]) || job.HashedBytes == job.Size && _maps[lane] is not null)
        {
            return true;
        }

        Unmap(lane);
        var start = job.HashedBytes - (job.HashedBytes % Window);
        var length = Math.Min(Window, job.Size - start);
        var map = Mmap(IntPtr.Zero, (nuint)length, ProtRead, MapShared, (int)job.File.DangerousGetHandle(), start);
        if (map == -1)
        {
            Release(lane, job, null, new IOException($"mmap of the downloaded file failed (errno {Marshal.GetLastPInvokeError()})."));
            return false;
        }

        _maps[lane] = (byte*)map;
        _mapStart[lane] = start;
        _mapLength[lane] = length;
        return true;
    }

    private void Unmap(int lane)
    {
        if (_maps[lane] is not null)
        {
            _ = Munmap((IntPtr)_maps[lane], (nuint)_mapLength[lane]);
            _maps[lane] = null;
        }
    }

    private const int ProtRead = 1;
    private const int MapShared = 1;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial IntPtr Mmap(IntPtr address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(IntPtr address, nuint length);
}

/// <summary>One file being hashed by <see cref="Md5Verifier"/> while it downloads.</summary>
internal sealed class Md5Job
{
    private readonly Md5Verifier _verifier;
    private long _written;
    private long _finishedWritingAt;
    private volatile bool _cancelled;

    internal Md5Job(Md5Verifier verifier, SafeFileHandle file, long size)
    {
        _verifier = verifier;
        File = file;
        Size = size;
    }

    internal SafeFileHandle File { get; }

    internal long Size { get; }

    /// <summary>How much the verifier has hashed (its thread only).</summary>
    internal long HashedBytes { get; set; }

    internal long Written => Volatile.Read(ref _written);

    /// <summary>When the download reported its last byte (Environment.TickCount64).</summary>
    internal long FinishedWritingAt => Volatile.Read(ref _finishedWritingAt);

    internal bool IsCancelled => _cancelled;

    internal TaskCompletionSource<byte[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The digest, once every byte has been reported written and hashed.</summary>
    public Task<byte[]> Digest => Completion.Task;

    /// <summary>The first <paramref name="length"/> bytes of the file are written and will not change.</summary>
    public void Advance(long length)
    {
        if (length == Size)
        {
            Volatile.Write(ref _finishedWritingAt, Environment.TickCount64);
        }

        Volatile.Write(ref _written, length);
        if (length == Size)
        {
            _verifier.Wake();
        }
    }

    /// <summary>The download failed: stop hashing and let go of the file. Await <see cref="Digest"/> (it ends cancelled) before closing the file.</summary>
    public void Cancel()
    {
        _cancelled = true;
        _verifier.Wake();
    }
}
