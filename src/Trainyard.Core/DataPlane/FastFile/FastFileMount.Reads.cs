using System.Globalization;
using System.Runtime.CompilerServices;
using Trainyard.Interop;
using Trainyard.Storage;
using static Trainyard.DataPlane.FastFile.FuseProtocol;

namespace Trainyard.DataPlane.FastFile;

/// <summary>READ: blocks from the cache or the store, read-ahead for sequential readers, errors as EIO.</summary>
public sealed partial class FastFileMount
{
    private void OnRead(ulong unique, ReadIn read)
    {
        if (!_handles.TryGetValue(read.Fh, out var handle))
        {
            Error(unique, Libc.EBADF);
            return;
        }

        var node = _tree[handle.Node];
        var offset = (long)read.Offset;
        var end = Math.Min(node.Size, offset + read.Size);
        if (offset >= end)
        {
            Error(unique, 0); // at or past the end: zero bytes
            return;
        }

        var blockSize = _options.BlockSize;
        var first = offset / blockSize;
        var last = (end - 1) / blockSize;
        ReadAhead(handle, node, offset, end, last);

        // Served at once from the cache when every block is there; otherwise from a task that awaits
        // the fetches, so this thread goes back to reading requests.
        if (last - first < 4)
        {
            Span<Block> cached = new Block[last - first + 1];
            var acquired = 0;
            while (acquired < cached.Length && _cache.TryAcquireCompleted(handle.Node, first + acquired, out cached[acquired]))
            {
                acquired++;
            }

            try
            {
                if (acquired == cached.Length)
                {
                    SendBlocks(unique, cached, offset - first * blockSize, (int)(end - offset));
                    return;
                }
            }
            finally
            {
                foreach (var block in cached[..acquired])
                {
                    block.Release();
                }
            }
        }

        _ = ServeReadAsync(unique, handle.Node, node, offset, end);
    }

    private async Task ServeReadAsync(ulong unique, int index, FileTree.Node node, long offset, long end)
    {
        var blockSize = _options.BlockSize;
        var first = offset / blockSize;
        var last = (end - 1) / blockSize;
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
        _pending[unique] = interrupt;
        try
        {
            // A block can be evicted between its fetch and our taking a reference (a cache much
            // smaller than the readers' working set): then it is fetched again.
            for (var attempt = 0; ; attempt++)
            {
                var tasks = new Task<Block>[last - first + 1];
                for (var b = first; b <= last; b++)
                {
                    tasks[b - first] = Block(index, node, b);
                }

                var blocks = await Task.WhenAll(tasks).WaitAsync(interrupt.Token).ConfigureAwait(false);
                var acquired = 0;
                while (acquired < blocks.Length && blocks[acquired].TryAddReference())
                {
                    acquired++;
                }

                try
                {
                    if (acquired == blocks.Length)
                    {
                        SendBlocks(unique, blocks, offset - first * blockSize, (int)(end - offset));
                        return;
                    }
                }
                finally
                {
                    foreach (var block in blocks.AsSpan(0, acquired))
                    {
                        block.Release();
                    }
                }

                if (attempt == 10)
                {
                    throw new IOException("the block cache evicts blocks before they can be read: raise FastFileOptions.CacheBytes");
                }
            }
        }
        catch (OperationCanceledException) when (interrupt.IsCancellationRequested)
        {
            Error(unique, Libc.EINTR);
        }
#pragma warning disable CA1031 // every failure of the store becomes EIO for the reader, never an exception here
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (Interlocked.Increment(ref _errorsLogged) <= 20)
            {
                Log.ReadFailed(_logger, node.Object!.Location.ToString(), offset, e is AggregateException a ? a.InnerException!.Message : e.Message);
            }

            Error(unique, Libc.EIO);
        }
        finally
        {
            _pending.TryRemove(unique, out _);
        }
    }

    /// <summary>
    /// A reader is sequential when it asks next to where it stopped (the kernel sends reads of one
    /// stream a little out of order). For it, the next blocks are fetched in parallel before it asks.
    /// </summary>
    private void ReadAhead(OpenFile handle, FileTree.Node node, long offset, long end, long lastBlock)
    {
        if (_options.ReadAheadBlocks <= 0)
        {
            return;
        }

        var blockSize = _options.BlockSize;
        long from, to;
        lock (handle)
        {
            // The kernel splits a large read into parallel requests (async direct I/O) that may arrive
            // in any order: anything within 16 MiB of where the reader was counts as sequential.
            var sequential = Math.Abs(offset - handle.NextOffset) <= Math.Max(2L * blockSize, 16L << 20);
            handle.NextOffset = Math.Max(sequential ? handle.NextOffset : 0, end);
            if (!sequential)
            {
                handle.ReadAheadUntil = lastBlock;
                return;
            }

            var lastOfFile = (node.Size - 1) / blockSize;
            from = Math.Max(lastBlock + 1, handle.ReadAheadUntil + 1);
            to = Math.Min(lastOfFile, lastBlock + _options.ReadAheadBlocks);
            // Wait until a whole range is due (or the file's end), so read-ahead GETs stay large.
            if (from > to || (to - from + 1 < _options.ReadAheadRangeBlocks && to < lastOfFile))
            {
                return;
            }

            handle.ReadAheadUntil = to;
        }

        // Consecutive blocks not cached yet are fetched with one ranged read each run of
        // ReadAheadRangeBlocks; a failed read-ahead is only logged when a reader asks for that block.
        var run = new List<(long Block, BlockCache.Entry Entry)>();
        for (var b = from; b <= to; b++)
        {
            if (_cache.TryReserve(handle.Node, b, BlockLength(node, b), out var entry, out _))
            {
                run.Add((b, entry));
            }

            if (run.Count > 0 && (run.Count == Math.Max(1, _options.ReadAheadRangeBlocks) || b == to || run[^1].Block != b))
            {
                _ = FetchRangeAsync(node, run);
                run = [];
            }
        }
    }

    private int BlockLength(FileTree.Node node, long block) => (int)Math.Min(_options.BlockSize, node.Size - block * _options.BlockSize);

    /// <summary>Fetches consecutive blocks with one ranged read, settling each cache entry as its bytes arrive.</summary>
    private async Task FetchRangeAsync(FileTree.Node node, List<(long Block, BlockCache.Entry Entry)> run)
    {
        var next = 0;
        try
        {
            await _fetches.WaitAsync(_lifetime.Token).ConfigureAwait(false);
            try
            {
                var info = node.Object!;
                var start = run[0].Block * _options.BlockSize;
                var total = run.Sum(r => (long)BlockLength(node, r.Block));
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
                timeout.CancelAfter(_options.FetchTimeout);
                var stream = await _store.OpenReadAsync(info.Location, start, total, timeout.Token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    for (; next < run.Count; next++)
                    {
                        var length = BlockLength(node, run[next].Block);
                        var data = _pool.Rent();
                        try
                        {
                            await ReadFullyAsync(stream, data, length, info, run[next].Block * _options.BlockSize, timeout.Token).ConfigureAwait(false);
                        }
                        catch
                        {
                            _pool.Return(data);
                            throw;
                        }

                        _cache.Complete(run[next].Entry, new Block(data, length, _pool));
                    }
                }
            }
            finally
            {
                _fetches.Release();
            }
        }
#pragma warning disable CA1031 // the entries carry the failure to whoever reads those blocks
        catch (Exception e)
#pragma warning restore CA1031
        {
            if (e is OperationCanceledException && !_lifetime.IsCancellationRequested)
            {
                e = new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"a ranged read of {node.Object!.Location} did not finish within {_options.FetchTimeout.TotalSeconds} s"));
            }

            for (; next < run.Count; next++)
            {
                _cache.Fail(run[next].Entry, e);
                _ = run[next].Entry.Completion.Task.Exception; // observed: only a reader's failure is reported
            }
        }
    }

    private static async Task ReadFullyAsync(Stream stream, byte[] data, int length, ObjectInfo info, long start, CancellationToken ct)
    {
        var read = 0;
        while (read < length)
        {
            var n = await stream.ReadAsync(data.AsMemory(read, length - read), ct).ConfigureAwait(false);
            if (n == 0)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture,
                    $"{info.Location} ended at byte {start + read}, but it was listed with {info.Size} bytes (changed or deleted since?)"));
            }

            read += n;
        }
    }

    private Task<Block> Block(int index, FileTree.Node node, long block)
    {
        var start = block * _options.BlockSize;
        var length = (int)Math.Min(_options.BlockSize, node.Size - start);
        return _cache.GetOrAdd(index, block, length, () => FetchAsync(node.Object!, start, length));
    }

    private async Task<Block> FetchAsync(ObjectInfo info, long start, int length)
    {
        await _fetches.WaitAsync(_lifetime.Token).ConfigureAwait(false);
        var data = _pool.Rent();
        var done = false;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
            timeout.CancelAfter(_options.FetchTimeout);
            try
            {
                var stream = await _store.OpenReadAsync(info.Location, start, length, timeout.Token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    await ReadFullyAsync(stream, data, length, info, start, timeout.Token).ConfigureAwait(false);
                }

                done = true;
                return new Block(data, length, _pool);
            }
            catch (OperationCanceledException) when (!_lifetime.IsCancellationRequested)
            {
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"a ranged read of {info.Location} at {start} did not finish within {_options.FetchTimeout.TotalSeconds} s"));
            }
        }
        finally
        {
            if (!done)
            {
                _pool.Return(data);
            }

            _fetches.Release();
        }
    }

    /// <summary>Replies with <paramref name="count"/> bytes of the blocks from <paramref name="offsetInFirst"/> on; the blocks' arrays are pinned.</summary>
    private unsafe void SendBlocks(ulong unique, ReadOnlySpan<Block> blocks, long offsetInFirst, int count)
    {
        Span<(nint, int)> pieces = stackalloc (nint, int)[blocks.Length];
        var skip = (int)offsetInFirst;
        var left = count;
        var n = 0;
        foreach (var block in blocks)
        {
            var take = Math.Min(left, block.Length - skip);
            if (take <= 0)
            {
                break;
            }

            pieces[n++] = ((nint)Unsafe.AsPointer(ref block.Data[skip]), take);
            left -= take;
            skip = 0;
        }

        Send(unique, 0, pieces[..n]);
    }
}
