using System.IO.Compression;

namespace Trainyard.Storage;

/// <summary>
/// A write-only stream that gzips on several cores: input is cut into blocks (1 MiB by default), each
/// compressed independently into a complete gzip member on the thread pool, and the members are written
/// to the inner stream in input order. RFC 1952 allows a file of concatenated members, and gzip, tar
/// and .NET's <see cref="GZipStream"/> all read it as one stream, so the output is a valid .gz/.tar.gz.
/// The price is a slightly worse ratio (each block starts with an empty dictionary).
/// </summary>
public sealed class ParallelGzipStream : BlockBufferingStream
{
    /// <summary>The default block size: large enough that the per-member overhead and dictionary reset cost little.</summary>
    public const int DefaultBlockSize = 1024 * 1024;

    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private readonly CompressionLevel _level;
    private readonly int _maxInFlight;
    private readonly Queue<Task<MemoryStream>> _pending = new();
    private bool _anyMember;

    /// <summary>Creates the stream.</summary>
    /// <param name="inner">Receives the gzip members, in order.</param>
    /// <param name="level">Compression level of every member.</param>
    /// <param name="leaveOpen">Whether disposing this stream leaves <paramref name="inner"/> open.</param>
    /// <param name="degreeOfParallelism">Blocks compressed at once; defaults to the processor count.</param>
    /// <param name="blockSize">Uncompressed bytes per member.</param>
    public ParallelGzipStream(Stream inner, CompressionLevel level = CompressionLevel.Optimal, bool leaveOpen = false, int degreeOfParallelism = 0, int blockSize = DefaultBlockSize)
        : base(CheckedBlockSize(blockSize))
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _leaveOpen = leaveOpen;
        _level = level;

        // One extra block beyond the cores keeps them busy while the oldest member is being written out.
        _maxInFlight = (degreeOfParallelism > 0 ? degreeOfParallelism : Environment.ProcessorCount) + 1;
    }

    /// <summary>Compresses what is buffered and writes every pending member; members stay valid gzip on their own.</summary>
    public override void Flush()
    {
        if (Buffered.Count > 0)
        {
            Submit();
        }

        while (_pending.Count > 0)
        {
            WriteMember(_pending.Dequeue().GetAwaiter().GetResult());
        }

        _inner.Flush();
    }

    /// <inheritdoc />
    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (Buffered.Count > 0)
        {
            Submit();
        }

        while (_pending.Count > 0)
        {
            await WriteMemberAsync(await _pending.Dequeue().ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }

        await _inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void OnBlockFull()
    {
        Submit();
        while (_pending.Count >= _maxInFlight)
        {
            WriteMember(_pending.Dequeue().GetAwaiter().GetResult());
        }
    }

    /// <inheritdoc />
    protected override async ValueTask OnBlockFullAsync(CancellationToken cancellationToken)
    {
        Submit();
        while (_pending.Count >= _maxInFlight)
        {
            await WriteMemberAsync(await _pending.Dequeue().ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !Finished)
        {
            try
            {
                FinishMembers();
                Flush();
            }
            finally
            {
                Finished = true;
                ReturnBlock();
                if (!_leaveOpen)
                {
                    _inner.Dispose();
                }
            }
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (!Finished)
        {
            try
            {
                FinishMembers();
                await FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                Finished = true;
                ReturnBlock();
                if (!_leaveOpen)
                {
                    await _inner.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        GC.SuppressFinalize(this);
    }

    private static int CheckedBlockSize(int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 4096);
        return blockSize;
    }

    // An empty input must still produce one (empty) member: zero bytes is not a valid gzip file.
    private void FinishMembers()
    {
        if (!_anyMember && Buffered.Count == 0)
        {
            // GZipStream writes nothing at all when nothing was written to it, so spell out the member:
            // header (no name, Unix), an empty final deflate block, CRC32 0 and length 0.
            byte[] empty = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            _pending.Enqueue(Task.FromResult(new MemoryStream(empty, 0, empty.Length, writable: false, publiclyVisible: true)));
            _anyMember = true;
        }
    }

    private void Submit()
    {
        var (block, length) = TakeBlock();
        var level = _level;
        _anyMember = true;
        _pending.Enqueue(Task.Run(() =>
        {
            try
            {
                return Compress(block, length, level);
            }
            finally
            {
                ReturnToPool(block);
            }
        }));
    }

    private static MemoryStream Compress(byte[] block, int length, CompressionLevel level)
    {
        var output = new MemoryStream(Math.Max(256, length / 2));
        using (var gzip = new GZipStream(output, level, leaveOpen: true))
        {
            gzip.Write(block, 0, length);
        }

        return output;
    }

    private void WriteMember(MemoryStream member)
    {
        using (member)
        {
            _inner.Write(member.GetBuffer(), 0, (int)member.Length);
        }
    }

    private async ValueTask WriteMemberAsync(MemoryStream member, CancellationToken cancellationToken)
    {
        using (member)
        {
            await _inner.WriteAsync(member.GetBuffer().AsMemory(0, (int)member.Length), cancellationToken).ConfigureAwait(false);
        }
    }
}
