using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Trainyard.DataPlane.Pipe;

public static partial class PipeChannel
{
    /// <summary>
    /// Streams one pass into the open FIFO: the source reads ahead into a bounded queue on the thread pool
    /// (async I/O), a dedicated thread drains the queue into the FIFO (blocking syscalls stay off the pool).
    /// Returns the bytes written and whether the reader closed before the end.
    /// </summary>
    private static async Task<(long Bytes, bool ReaderClosed)> RunEpochAsync(
        int fd, PipeSource source, int epoch, string channelName, ILogger logger, CancellationToken cancellationToken)
    {
        using var epochCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var queue = Channel.CreateBounded<PipeChunk>(new BoundedChannelOptions(ReadAheadChunks)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var fifo = new FifoWriter(fd);
        var writerDone = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => DrainQueue(fifo, queue.Reader, epochCts, writerDone))
        {
            IsBackground = true,
            Name = $"pipe {channelName}_{epoch}",
        };

        Exception? producerError = null;
        bool readerClosed;
        Exception? writerError = null;
        using (epochCts.Token.Register(fifo.Cancel))
        {
            thread.Start();
            var output = new PipeChunkWriter(queue.Writer, ChunkSize);
            await using (output.ConfigureAwait(false))
            {
                try
                {
                    await source.ProduceAsync(output, epoch, epochCts.Token).ConfigureAwait(false);
                    await output.FlushAsync(epochCts.Token).ConfigureAwait(false);
                    queue.Writer.TryComplete();
                }
#pragma warning disable CA1031 // Any failure of the source must end the writer thread too; it is rethrown below.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    producerError = e;
                    queue.Writer.TryComplete(e);
                }
            }

            try
            {
                readerClosed = await writerDone.Task.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Examined below, after the source's error, which takes precedence.
            catch (Exception e)
#pragma warning restore CA1031
            {
                writerError = e;
                readerClosed = false;
            }
        }

        while (queue.Reader.TryRead(out var left))
        {
            Release(left);
        }

        if (fifo.UsedCopyFallback)
        {
            PipeLog.CopyFallback(logger, channelName);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (producerError is not null and not OperationCanceledException)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(producerError);
        }

        if (readerClosed)
        {
            return (fifo.BytesWritten, true);
        }

        if (writerError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(writerError);
        }

        if (producerError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(producerError);
        }

        return (fifo.BytesWritten, false);
    }

    private static void DrainQueue(FifoWriter fifo, ChannelReader<PipeChunk> queue, CancellationTokenSource epochCts, TaskCompletionSource<bool> done)
    {
        try
        {
            while (true)
            {
                if (!queue.TryRead(out var chunk))
                {
                    var wait = queue.WaitToReadAsync(epochCts.Token);
                    var more = wait.IsCompleted ? wait.GetAwaiter().GetResult() : wait.AsTask().GetAwaiter().GetResult();
                    if (!more)
                    {
                        done.SetResult(false);
                        return;
                    }

                    continue;
                }

                bool written;
                try
                {
                    written = chunk.Buffer is { } buffer ? fifo.Write(buffer.AsSpan(0, chunk.Count)) : fifo.WriteFile(chunk.File!.Descriptor, chunk.Offset, chunk.Length);
                }
                finally
                {
                    Release(chunk);
                }

                if (!written)
                {
                    // EPIPE: the reader is gone. Stop the source; SageMaker moves on to the next epoch.
                    epochCts.Cancel();
                    done.SetResult(true);
                    return;
                }
            }
        }
#pragma warning disable CA1031 // Handed to the awaiting side, which decides what it means.
        catch (Exception e)
#pragma warning restore CA1031
        {
            epochCts.Cancel();
            done.SetException(e);
        }
    }

    private static void Release(PipeChunk chunk)
    {
        if (chunk.Buffer is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        else
        {
            chunk.File?.Release();
        }
    }
}
