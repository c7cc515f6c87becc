using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trainyard.S3;

/// <summary>
/// Hashes downloaded files with <see cref="Md5Lanes"/>, sixteen at a time, on one background thread,
/// following each download as its bytes land: a download tells its <see cref="Md5Job"/> how long the
/// written prefix of the file is, and the verifier reads that prefix back from the page cache in chunks.
/// A lane that has nothing new to read sits out while the others go on; a finished message frees its lane
/// for the next file. One verifier serves the whole process.
/// </summary>
internal sealed unsafe class Md5Verifier
{
    /// <summary>Bytes read into a lane at once: 16 lanes × 64 KiB = 1 MiB, which stays in L2 between the read and the hashing (256 KiB chunks were 20 % slower).</summary>
    internal const int ChunkSize = 64 * 1024;

    // While downloads run, the verifier sweeps this often: it sleeps while bytes pile up in every lane,
    // then hashes them all in lockstep, so most kernel calls carry many lanes. (Waking on each download's
    // progress instead ran most calls with two or three lanes ready: a third of the throughput.) A
    // download that finishes, a new file and a cancellation wake it at once.
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(4);

    // A lane waits for this much new data (or the end of its file) before it is worth a read.
    private const int MinimumRead = 16 * 1024;

    private static readonly Lazy<Md5Verifier> LazyShared = new(() => new Md5Verifier());

    private readonly ConcurrentQueue<Md5Job> _queue = new();
    private readonly ManualResetEventSlim _signal = new(false);
    private readonly Md5Job?[] _lanes = new Md5Job?[Md5Lanes.Lanes];
    private readonly int[] _buffered = new int[Md5Lanes.Lanes];
    private readonly int[] _consumed = new int[Md5Lanes.Lanes];
    private readonly uint[] _state = new uint[4 * Md5Lanes.Lanes];
    private readonly byte* _buffers;

    private Md5Verifier()
    {
        _buffers = (byte*)NativeMemory.AlignedAlloc((nuint)(Md5Lanes.Lanes * ChunkSize), 64);
        new Thread(Run) { IsBackground = true, Name = "trainyard-md5" }.Start();
    }

    /// <summary>The process's verifier (its thread and 1 MiB buffer start on first use).</summary>
    public static Md5Verifier Shared => LazyShared.Value;

    /// <summary>Starts hashing <paramref name="file"/> (of <paramref name="size"/> bytes) as its prefix is reported written.</summary>
    public Md5Job Start(SafeFileHandle file, long size)
    {
        var job = new Md5Job(this, file, size);
        _queue.Enqueue(job);
        _signal.Set();
        return job;
    }

    internal void Wake() => _signal.Set();

    /// <summary>Kernel calls, block steps and lane-blocks hashed so far (for benchmarks: lane-blocks / blocks = lanes filled per step).</summary>
    internal static (long Calls, long Blocks, long LaneBlocks) Stats;

    private void Run()
    {
        var pointers = new IntPtr[Md5Lanes.Lanes];
        while (true)
        {
            _signal.Reset();
            Admit();
            var ready = 0;
            var blocks = int.MaxValue;
            var finished = false;
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

                try
                {
                    Refill(lane, job);
                }
                catch (Exception e)
                {
                    Release(lane, job, null, e);
                    continue;
                }

                var available = (_buffered[lane] - _consumed[lane]) / Md5Lanes.BlockSize;
                if (available > 0)
                {
                    ready |= 1 << lane;
                    blocks = Math.Min(blocks, available);
                    pointers[lane] = (IntPtr)(_buffers + (lane * ChunkSize) + _consumed[lane]);
                }
                else if (job.ReadOffset == job.Size)
                {
                    // Everything is read and only a partial block (or nothing) is left: pad and finish.
                    var tail = new ReadOnlySpan<byte>(_buffers + (lane * ChunkSize) + _consumed[lane], _buffered[lane] - _consumed[lane]);
                    Release(lane, job, Md5Lanes.Finish(_state, lane, tail, job.Size), null);
                    finished = true;
                }
            }

            if (ready != 0)
            {
                Md5Lanes.Compress(_state, pointers, blocks, ready);
                Stats.Calls++;
                Stats.Blocks += blocks;
                Stats.LaneBlocks += (long)blocks * System.Numerics.BitOperations.PopCount((uint)ready);
                for (var lane = 0; lane < Md5Lanes.Lanes; lane++)
                {
                    if ((ready & (1 << lane)) != 0)
                    {
                        _consumed[lane] += blocks * Md5Lanes.BlockSize;
                    }
                }
            }
            else if (!finished)
            {
                // Nothing to hash until more bytes land (or a new file arrives).
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
            if (_lanes[lane] is null && _queue.TryDequeue(out var job))
            {
                _lanes[lane] = job;
                _buffered[lane] = 0;
                _consumed[lane] = 0;
                Md5Lanes.Initialize(_state, lane);
            }
        }
    }

    /// <summary>Reads the next chunk of a lane's file once its buffer holds less than a block.</summary>
    private void Refill(int lane, Md5Job job)
    {
        var left = _buffered[lane] - _consumed[lane];
        if (left >= Md5Lanes.BlockSize || job.ReadOffset == job.Size)
        {
            return;
        }

        var written = job.Written;
        var readable = written - job.ReadOffset;
        if (readable <= 0 || (written < job.Size && readable < MinimumRead))
        {
            return;
        }

        // Keep the partial block at the front of the buffer, then read whole blocks after it (the last read of the file takes the rest).
        var buffer = new Span<byte>(_buffers + (lane * ChunkSize), ChunkSize);
        buffer.Slice(_consumed[lane], left).CopyTo(buffer);
        var room = ChunkSize - left;
        var want = (int)Math.Min(room, readable);
        if (written < job.Size)
        {
            want -= (left + want) % Md5Lanes.BlockSize;
        }

        var read = 0;
        while (read < want)
        {
            var n = RandomAccess.Read(job.File, buffer.Slice(left + read, want - read), job.ReadOffset + read);
            if (n == 0)
            {
                throw new IOException($"The file ended after {job.ReadOffset + read} of {job.Size} bytes.");
            }

            read += n;
        }

        job.ReadOffset += read;
        _buffered[lane] = left + read;
        _consumed[lane] = 0;
    }

    private void Release(int lane, Md5Job job, byte[]? digest, Exception? error)
    {
        _lanes[lane] = null;
        _buffered[lane] = 0;
        _consumed[lane] = 0;
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
}

/// <summary>One file being hashed by <see cref="Md5Verifier"/> while it downloads.</summary>
internal sealed class Md5Job
{
    private readonly Md5Verifier _verifier;
    private long _written;
    private volatile bool _cancelled;

    internal Md5Job(Md5Verifier verifier, SafeFileHandle file, long size)
    {
        _verifier = verifier;
        File = file;
        Size = size;
    }

    internal SafeFileHandle File { get; }

    internal long Size { get; }

    /// <summary>How far the verifier has read (its thread only).</summary>
    internal long ReadOffset { get; set; }

    internal long Written => Volatile.Read(ref _written);

    internal bool IsCancelled => _cancelled;

    internal TaskCompletionSource<byte[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The digest, once every byte has been reported written and hashed.</summary>
    public Task<byte[]> Digest => Completion.Task;

    /// <summary>The first <paramref name="length"/> bytes of the file are written and will not change.</summary>
    public void Advance(long length)
    {
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
