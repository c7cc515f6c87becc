using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Trainyard.Model;

namespace Trainyard.Jobs;

/// <summary>
/// Durable job records in SQLite (<c>&lt;home&gt;/trainyard.db</c>), with every record also held in
/// memory so that Describe and List never wait on the disk. A change is written to the database
/// before anyone can see it, and changes to one job are serialised by that job's lock.
/// </summary>
public sealed class JobStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _dbLock = new();
    private readonly ConcurrentDictionary<string, JobRecord> _jobs = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, Lock> _locks = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _indexLock = new();
    private long _sequence;
    private JobRecord[]? _byCreation;
    private JobRecord[]? _byName;

    public JobStore(string databasePath)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        _db.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;");
        Execute("""
            CREATE TABLE IF NOT EXISTS training_jobs (
              name TEXT PRIMARY KEY COLLATE NOCASE,
              seq INTEGER NOT NULL,
              definition TEXT NOT NULL,
              state TEXT NOT NULL
            );
            """);
        Load();
    }

    /// <summary>Raised after a change is stored.</summary>
    public event Action<JobRecord>? Changed;

    public int Count => _jobs.Count;

    public IEnumerable<JobRecord> All => _jobs.Values;

    public JobRecord? Get(string name) => _jobs.TryGetValue(name, out var job) ? job : null;

    public long NextSequence() => Interlocked.Increment(ref _sequence);

    /// <summary>Stores a new job; false when a job of that name (case-insensitively) exists.</summary>
    public bool TryCreate(JobRecord job)
    {
        var gate = _locks.GetOrAdd(job.Name, _ => new Lock());
        lock (gate)
        {
            if (_jobs.ContainsKey(job.Name))
            {
                return false;
            }

            Write(job, insert: true);
            _jobs[job.Name] = job;
        }

        lock (_indexLock)
        {
            _byCreation = Insert(_byCreation, job, CompareCreation);
            _byName = Insert(_byName, job, CompareName);
        }

        Changed?.Invoke(job);
        return true;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the current record under the job's lock and stores the
    /// result. <paramref name="change"/> returns null to leave the job as it is. Returns the stored
    /// record, or null when nothing changed or there is no such job.
    /// </summary>
    public JobRecord? Update(string name, Func<JobRecord, JobRecord?> change)
    {
        if (!_locks.TryGetValue(name, out var gate))
        {
            return null;
        }

        JobRecord? next;
        lock (gate)
        {
            if (!_jobs.TryGetValue(name, out var current))
            {
                return null;
            }

            next = change(current);
            if (next is null || ReferenceEquals(next, current))
            {
                return null;
            }

            Write(next, insert: false);
            _jobs[name] = next;
        }

        Changed?.Invoke(next);
        return next;
    }

    /// <summary>
    /// Every job in ascending (CreationTime, Name) or Name order, for keyset pages without a scan. The
    /// records in the index may be older versions: read the current one with <see cref="Get"/> (the sort
    /// keys never change).
    /// </summary>
    public JobRecord[]? Ordered(string sortBy)
    {
        lock (_indexLock)
        {
            return sortBy switch
            {
                "CreationTime" => _byCreation ??= [.. _jobs.Values.Order(Comparer<JobRecord>.Create(CompareCreation))],
                "Name" => _byName ??= [.. _jobs.Values.Order(Comparer<JobRecord>.Create(CompareName))],
                _ => null,
            };
        }
    }

    public static int CompareCreation(JobRecord a, JobRecord b)
    {
        var c = a.CreationTime.UtcTicks.CompareTo(b.CreationTime.UtcTicks);
        return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);
    }

    public static int CompareName(JobRecord a, JobRecord b) => string.CompareOrdinal(a.Name, b.Name);

    // Copy-on-write: readers keep the array they took; new jobs usually go at the end.
    private static JobRecord[]? Insert(JobRecord[]? index, JobRecord job, Comparison<JobRecord> compare)
    {
        if (index is null)
        {
            return null;
        }

        var at = Array.BinarySearch(index, job, Comparer<JobRecord>.Create(compare));
        at = at < 0 ? ~at : at;
        var next = new JobRecord[index.Length + 1];
        Array.Copy(index, next, at);
        next[at] = job;
        Array.Copy(index, at, next, at + 1, index.Length - at);
        return next;
    }

    private void Write(JobRecord job, bool insert)
    {
        var state = JsonSerializer.Serialize(JobState.From(job), JobsJsonContext.Default.JobState);
        lock (_dbLock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = insert
                ? "INSERT INTO training_jobs (name, seq, definition, state) VALUES ($name, $seq, $definition, $state)"
                : "UPDATE training_jobs SET state = $state WHERE name = $name";
            cmd.Parameters.AddWithValue("$name", job.Name);
            cmd.Parameters.AddWithValue("$state", state);
            if (insert)
            {
                cmd.Parameters.AddWithValue("$seq", job.Sequence);
                cmd.Parameters.AddWithValue("$definition", job.DefinitionJson);
            }

            cmd.ExecuteNonQuery();
        }
    }

    private void Load()
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = "SELECT name, seq, definition, state FROM training_jobs";
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            var name = reader.GetString(0);
            var seq = reader.GetInt64(1);
            var definitionJson = reader.GetString(2);
            var definition = JsonSerializer.Deserialize(definitionJson, TrainyardJsonContext.Default.CreateTrainingJobRequest)!;
            var state = JsonSerializer.Deserialize(reader.GetString(3), JobsJsonContext.Default.JobState)!;
            _jobs[name] = new JobRecord
            {
                Name = name,
                Arn = state.Arn,
                ImagePath = state.ImagePath ?? definition.AlgorithmSpecification.TrainingImage ?? "",
                Sequence = seq,
                Definition = definition,
                DefinitionJson = definitionJson,
                Status = state.Status,
                SecondaryStatus = state.SecondaryStatus,
                FailureReason = state.FailureReason,
                CreationTime = state.CreationTime,
                LastModifiedTime = state.LastModifiedTime,
                TrainingStartTime = state.TrainingStartTime,
                TrainingEndTime = state.TrainingEndTime,
                Transitions = state.Transitions?.ToImmutableList() ?? [],
                ModelArtifacts = state.ModelArtifacts,
                FinalMetrics = state.FinalMetrics?.ToImmutableList() ?? [],
                Tags = state.Tags?.ToImmutableList() ?? [],
                StopReason = state.StopReason,
                ExecutorName = state.ExecutorName,
                ExecutorState = state.ExecutorState,
            };
            _locks[name] = new Lock();
            _sequence = Math.Max(_sequence, seq);
        }
    }

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        lock (_dbLock)
        {
            _db.Dispose();
        }
    }
}
