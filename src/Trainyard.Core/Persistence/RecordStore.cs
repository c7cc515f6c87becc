using System.Collections.Concurrent;

namespace Trainyard.Persistence;

/// <summary>
/// Durable records of one kind (training jobs, algorithms) in a table of the home's database
/// (<c>name, seq, definition, state</c>), every record also held in memory so that Describe and List
/// never wait on the disk. A change is written to the database before anyone can see it; the changes of
/// one record are serialised by that record's lock (compare-and-set), and <see cref="Changed"/> is raised
/// under it, so listeners see each record's versions in the order they were stored.
/// </summary>
public abstract class RecordStore<T> where T : class, IStoredRecord
{
    private readonly TrainyardDatabase _db;
    private readonly string _table;
    private readonly IRecordCodec<T> _codec;
    private readonly ConcurrentDictionary<string, T> _records = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, Lock> _locks = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _indexLock = new();
    private long _sequence;
    private T[]? _byCreation;
    private T[]? _byName;

    protected RecordStore(TrainyardDatabase db, string table, IRecordCodec<T> codec)
    {
        _db = db;
        _table = table;
        _codec = codec;
        db.Execute($"CREATE TABLE IF NOT EXISTS {table} (name TEXT PRIMARY KEY COLLATE NOCASE, seq INTEGER NOT NULL, definition TEXT NOT NULL, state TEXT NOT NULL);");
        db.Use(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = $"SELECT name, seq, definition, state FROM {table}";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var record = codec.Decode(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3));
                _records[record.Name] = record;
                _locks[record.Name] = new Lock();
                _sequence = Math.Max(_sequence, record.Sequence);
            }

            return 0;
        });
    }

    /// <summary>Raised after a record is stored (created or changed), under its lock: keep handlers short, and never take another record's lock in one.</summary>
    public event Action<T>? Changed;

    public TrainyardDatabase Database => _db;

    public int Count => _records.Count;

    public IEnumerable<T> All => _records.Values;

    public T? Get(string name) => _records.TryGetValue(name, out var record) ? record : null;

    /// <summary>The next creation sequence number (the queue's first-in, first-out order).</summary>
    public long NextSequence() => Interlocked.Increment(ref _sequence);

    /// <summary>Stores a new record; false when one of that name (case-insensitively) exists.</summary>
    public bool TryCreate(T record)
    {
        var gate = _locks.GetOrAdd(record.Name, _ => new Lock());
        lock (gate)
        {
            if (_records.ContainsKey(record.Name))
            {
                return false;
            }

            _db.Execute($"INSERT INTO {_table} (name, seq, definition, state) VALUES ($name, $seq, $definition, $state)",
                ("$name", record.Name), ("$seq", record.Sequence), ("$definition", _codec.Definition(record)), ("$state", _codec.State(record)));
            _records[record.Name] = record;
            lock (_indexLock)
            {
                _byCreation = Insert(_byCreation, record, CompareCreation);
                _byName = Insert(_byName, record, CompareName);
            }

            Changed?.Invoke(record);
            return true;
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the current record under its lock and stores the result.
    /// <paramref name="change"/> returns null (or the record itself) to leave it as it is. Returns the
    /// stored record, or null when nothing changed or there is no such record.
    /// </summary>
    protected T? Change(string name, Func<T, T?> change)
    {
        if (!_locks.TryGetValue(name, out var gate))
        {
            return null;
        }

        lock (gate)
        {
            if (!_records.TryGetValue(name, out var current))
            {
                return null;
            }

            var next = change(current);
            if (next is null || ReferenceEquals(next, current))
            {
                return null;
            }

            _db.Execute($"UPDATE {_table} SET state = $state WHERE name = $name", ("$name", current.Name), ("$state", _codec.State(next)));
            _records[current.Name] = next;
            Changed?.Invoke(next);
            return next;
        }
    }

    /// <summary>Removes a record when <paramref name="allowed"/> says so (checked under its lock); false when it is not there or not allowed.</summary>
    protected bool Remove(string name, Func<T, bool> allowed)
    {
        if (!_locks.TryGetValue(name, out var gate))
        {
            return false;
        }

        lock (gate)
        {
            if (!_records.TryGetValue(name, out var current) || !allowed(current))
            {
                return false;
            }

            _db.Execute($"DELETE FROM {_table} WHERE name = $name", ("$name", current.Name));
            _records.TryRemove(current.Name, out _);
            lock (_indexLock)
            {
                _byCreation = null;
                _byName = null;
            }

            return true;
        }
    }

    /// <summary>
    /// Every record in ascending (CreationTime, Name) or Name order, for keyset pages without a scan; null
    /// for another sort. The index may hold older versions: read the current one with <see cref="Get"/>
    /// (the sort keys never change).
    /// </summary>
    public T[]? Ordered(string sortBy)
    {
        lock (_indexLock)
        {
            return sortBy switch
            {
                "CreationTime" => _byCreation ??= [.. _records.Values.Order(Comparer<T>.Create(CompareCreation))],
                "Name" => _byName ??= [.. _records.Values.Order(Comparer<T>.Create(CompareName))],
                _ => null,
            };
        }
    }

    public static int CompareCreation(IStoredRecord a, IStoredRecord b)
    {
        var c = a.CreationTime.UtcTicks.CompareTo(b.CreationTime.UtcTicks);
        return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
    }

    public static int CompareName(IStoredRecord a, IStoredRecord b) => string.CompareOrdinal(a.Name, b.Name);

    // Copy-on-write: readers keep the array they took; new records usually go at the end.
    private static T[]? Insert(T[]? index, T record, Comparison<T> compare)
    {
        if (index is null)
        {
            return null;
        }

        var at = Array.BinarySearch(index, record, Comparer<T>.Create(compare));
        at = at < 0 ? ~at : at;
        var next = new T[index.Length + 1];
        Array.Copy(index, next, at);
        next[at] = record;
        Array.Copy(index, at, next, at + 1, index.Length - at);
        return next;
    }
}
