namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// A bounded LRU of file blocks. An entry is the fetch itself (a task), so a block that several
/// readers (or a reader and the read-ahead) want at once is fetched once. A failed fetch leaves the
/// cache, so the next read tries again. The cache holds one reference to each block it has; eviction
/// drops it (see <see cref="Block"/>).
/// </summary>
internal sealed class BlockCache(long capacityBytes)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(int Node, long Block), LinkedListNode<Entry>> _map = [];
    private readonly LinkedList<Entry> _lru = new();
    private long _bytes;

    /// <summary>The block if it is cached and fetched, with a reference the caller must release.</summary>
    public bool TryAcquireCompleted(int node, long block, out Block data)
    {
        lock (_lock)
        {
            if (_map.TryGetValue((node, block), out var e) && e.Value.Result is { } result && result.TryAddReference())
            {
                _lru.Remove(e);
                _lru.AddFirst(e);
                data = result;
                return true;
            }
        }

        data = null!;
        return false;
    }

    public bool Contains(int node, long block)
    {
        lock (_lock)
        {
            return _map.ContainsKey((node, block));
        }
    }

    /// <summary>
    /// The block's fetch, started if needed. The block it yields carries no reference for the caller:
    /// take one with <see cref="Block.TryAddReference"/>, and fetch again if that fails (evicted meanwhile).
    /// </summary>
    public Task<Block> GetOrAdd(int node, long block, int length, Func<Task<Block>> fetch)
    {
        if (!TryReserve(node, block, length, out var entry, out var existing))
        {
            return existing;
        }

        _ = Start(entry, fetch);
        return entry.Completion.Task;
    }

    /// <summary>
    /// Adds an entry for a block that is not cached yet, for a caller that fetches several blocks with
    /// one ranged read and settles each entry with <see cref="Complete"/> or <see cref="Fail"/>.
    /// </summary>
    public bool TryReserve(int node, long block, int length, out Entry entry, out Task<Block> existing)
    {
        var key = (node, block);
        lock (_lock)
        {
            if (_map.TryGetValue(key, out var found))
            {
                _lru.Remove(found);
                _lru.AddFirst(found);
                entry = null!;
                existing = found.Value.Completion.Task;
                return false;
            }

            entry = new Entry(key, length);
            var added = _lru.AddFirst(entry);
            _map[key] = added;
            _bytes += length;
            while (_bytes > capacityBytes && _lru.Last is { } last && last != added)
            {
                Remove(last);
            }
        }

        existing = entry.Completion.Task;
        return true;
    }

    private async Task Start(Entry entry, Func<Task<Block>> fetch)
    {
        Block result;
        try
        {
            result = await fetch().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Fail(entry, e);
            return;
        }

        Complete(entry, result);
    }

    public void Complete(Entry entry, Block result)
    {
        bool evicted;
        lock (_lock)
        {
            entry.Result = result;
            evicted = entry.Evicted;
        }

        entry.Completion.SetResult(result);
        if (evicted)
        {
            result.Release(); // evicted while it was being fetched: the cache's reference goes now
        }
    }

    public void Fail(Entry entry, Exception e)
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

    private void Remove(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _map.Remove(node.Value.Key);
        _bytes -= node.Value.Length;
        node.Value.Evicted = true;
        node.Value.Result?.Release();
    }

    internal sealed class Entry((int, long) key, int length)
    {
        public (int Node, long Block) Key { get; } = key;
        public int Length { get; } = length;
        public TaskCompletionSource<Block> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Block? Result { get; set; }
        public bool Evicted { get; set; }
    }
}
