using System.Buffers;
using System.Threading.Channels;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// The producer's side of an epoch: a write-only stream that cuts what is written into pooled chunks and
/// queues them for the FIFO writer thread. The queue's capacity bounds the read-ahead.
/// </summary>
internal sealed class PipeChunkWriter(ChannelWriter<PipeChunk> queue, int chunkSize) : Stream
{
    private byte[]? _buffer;
    private int _count;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            _buffer ??= ArrayPool<byte>.Shared.Rent(chunkSize);
            var n = Math.Min(buffer.Length, chunkSize - _count);
            buffer.Span[..n].CopyTo(_buffer.AsSpan(_count));
            _count += n;
            buffer = buffer[n..];
            if (_count == chunkSize)
            {
                await FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads from <paramref name="source"/> straight into the current chunk; 0 at its end.</summary>
    public async ValueTask<int> FillFromAsync(Stream source, CancellationToken cancellationToken)
    {
        _buffer ??= ArrayPool<byte>.Shared.Rent(chunkSize);
        var n = await source.ReadAsync(_buffer.AsMemory(_count, chunkSize - _count), cancellationToken).ConfigureAwait(false);
        _count += n;
        if (_count == chunkSize)
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        return n;
    }

    /// <summary>
    /// Queues a range of a local file (<paramref name="length"/> -1: to its end), after what was written
    /// before it. The queued chunk takes its own reference to <paramref name="file"/>.
    /// </summary>
    public async ValueTask AddFileRangeAsync(LocalFile file, long offset, long length, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        var chunk = PipeChunk.FileRange(file.AddReference(), offset, length);
        try
        {
            await queue.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            file.Release();
            throw;
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (_buffer is null || _count == 0)
        {
            return;
        }

        var chunk = PipeChunk.Bytes(_buffer, _count);
        _buffer = null;
        _count = 0;
        await queue.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
    }

    public override void Flush() => throw new NotSupportedException("Use FlushAsync.");
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Use WriteAsync.");

    protected override void Dispose(bool disposing)
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        base.Dispose(disposing);
    }
}
