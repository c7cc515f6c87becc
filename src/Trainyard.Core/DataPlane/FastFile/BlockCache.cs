namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// A bounded LRU of file blocks. An entry is the fetch itself (a task), so a block that several
/// readers (or a reader and the read-ahead) want at once is fetched once. A failed fetch leaves the
/// cache, so the next read tries again.
/// </summary>
internal sealed class BlockCache(long capacityBytes)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(int Node, long Block), LinkedListNode<Entry>> _map = [];
    private readonly LinkedList<Entry> _lru = new();
    private long _bytes;

    public bool TryGetCompleted(int node, long block, out byte[] data)
    {
        lock (_lock)
        {
            if (_map.TryGetValue((node, block), out var e) && e.Value.Task.IsCompletedSuccessfully)
            {
                _lru.Remove(e);
                _lru.AddFirst(e);
                data = e.Value.Task.Result;
                return true;
            }
        }

        data = [];
        return false;
    }

    public bool Contains(int node, long block)
    {
        lock (_lock)
        {
            return _map.ContainsKey((node, block));
        }
    }

    public Task<byte[]> GetOrAdd(int node, long block, int length, Func<Task<byte[]>> fetch)
    {
        var key = (node, block);
        Entry entry;
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var existing))
            {
                _lru.Remove(existing);
                _lru.AddFirst(existing);
                return existing.Value.Task;
            }

            entry = new Entry(key, length);
            entry.Task = entry.Completion.Task;
            _map[key] = _lru.AddFirst(entry);
            _bytes += length;
            while (_bytes > capacityBytes && _lru.Last is { } last && last != _map[key])
            {
                Remove(last);
            }
        }

        _ = Start(entry, fetch);
        return entry.Task;
    }

    private async Task Start(Entry entry, Func<Task<byte[]>> fetch)
    {
        try
        {
            entry.Completion.SetResult(await fetch().ConfigureAwait(false));
        }
        catch (Exception e)
        {
            lock (_lock)
            {
                if (_map.TryGetValue(entry.Key, out var n) && n.Value == entry)
                {
                    Remove(n);
                }
            }

            entry.Completion.SetException(e);
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _map.Remove(node.Value.Key);
        _bytes -= node.Value.Length;
    }

    private sealed class Entry((int, long) key, int length)
    {
        public (int Node, long Block) Key { get; } = key;
        public int Length { get; } = length;
        public TaskCompletionSource<byte[]> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<byte[]> Task { get; set; } = null!;
    }
}
