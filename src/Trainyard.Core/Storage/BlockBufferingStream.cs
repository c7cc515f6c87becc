using System.Buffers;

namespace Trainyard.Storage;

/// <summary>
/// The writing half of a write-only stream that works in fixed-size blocks (gzip members, multipart
/// parts): writes fill a pooled block, and each time one is full the subclass is told to hand it off
/// (<see cref="OnBlockFull"/>, <see cref="OnBlockFullAsync"/>), taking it with <see cref="TakeBlock"/>.
/// Reads and seeks are refused.
/// </summary>
public abstract class BlockBufferingStream : Stream
{
    private readonly ArrayPool<byte> _pool;
    private byte[]? _block;
    private int _filled;
    private long _written;

    /// <summary>Creates the stream.</summary>
    /// <param name="blockSize">Bytes per block.</param>
    /// <param name="pool">Where blocks are rented from and returned to; the shared pool by default.</param>
    protected BlockBufferingStream(int blockSize, ArrayPool<byte>? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        BlockSize = blockSize;
        _pool = pool ?? ArrayPool<byte>.Shared;
    }

    /// <summary>Bytes per block.</summary>
    protected int BlockSize { get; }

    /// <summary>Set once the stream takes no more writes (disposed, completed or aborted).</summary>
    protected bool Finished { get; set; }

    /// <summary>The bytes buffered in the current block, not yet handed off.</summary>
    protected ArraySegment<byte> Buffered => _block is null ? ArraySegment<byte>.Empty : new(_block, 0, _filled);

    /// <inheritdoc />
    public override bool CanRead => false;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => !Finished;

    /// <summary>Bytes written so far.</summary>
    public override long Length => _written;

    /// <inheritdoc />
    public override long Position { get => _written; set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            buffer = buffer[Append(buffer)..];
            if (_filled == BlockSize)
            {
                OnBlockFull();
            }
        }
    }

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            buffer = buffer[Append(buffer.Span)..];
            if (_filled == BlockSize)
            {
                await OnBlockFullAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// The current block is full: hand it off (<see cref="TakeBlock"/>) before returning, or throw. A block
    /// left in place is offered again on the next write.
    /// </summary>
    protected abstract void OnBlockFull();

    /// <inheritdoc cref="OnBlockFull" />
    protected abstract ValueTask OnBlockFullAsync(CancellationToken cancellationToken);

    /// <summary>Takes the current block and its length; the caller returns the array with <see cref="ReturnToPool"/>.</summary>
    protected (byte[] Block, int Length) TakeBlock()
    {
        var taken = (_block ?? [], _filled);
        _block = null;
        _filled = 0;
        return taken;
    }

    /// <summary>Returns a block taken with <see cref="TakeBlock"/> to the pool.</summary>
    protected void ReturnToPool(byte[] block)
    {
        if (block.Length > 0)
        {
            _pool.Return(block);
        }
    }

    /// <summary>Returns the current block, if any, to the pool, dropping what it buffers.</summary>
    protected void ReturnBlock()
    {
        if (_block is not null)
        {
            _pool.Return(_block);
            _block = null;
            _filled = 0;
        }
    }

    private int Append(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(Finished, this);
        _block ??= _pool.Rent(BlockSize);
        var n = Math.Min(data.Length, BlockSize - _filled);
        data[..n].CopyTo(_block.AsSpan(_filled));
        _filled += n;
        _written += n;
        return n;
    }
}
