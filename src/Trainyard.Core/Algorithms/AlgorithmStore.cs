using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Trainyard.Model;

namespace Trainyard.Algorithms;

/// <summary>Algorithm resources in SQLite (the job database), held in memory as well.</summary>
public sealed class AlgorithmStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, AlgorithmRecord> _algorithms = new(StringComparer.OrdinalIgnoreCase);

    public AlgorithmStore(string databasePath)
    {
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        _db.Open();
        using (var cmd = _db.CreateCommand())
        {
            cmd.CommandText = """
                PRAGMA busy_timeout=5000;
                CREATE TABLE IF NOT EXISTS algorithms (
                  name TEXT PRIMARY KEY COLLATE NOCASE,
                  arn TEXT NOT NULL,
                  creation_time REAL NOT NULL,
                  definition TEXT NOT NULL,
                  status TEXT NOT NULL,
                  validation TEXT NOT NULL
                );
                """;
            cmd.ExecuteNonQuery();
        }

        using (var cmd = _db.CreateCommand())
        {
            cmd.CommandText = "SELECT name, arn, creation_time, definition, status, validation FROM algorithms";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var record = new AlgorithmRecord
                {
                    Name = reader.GetString(0),
                    Arn = reader.GetString(1),
                    CreationTime = JsonTimestamp.FromSeconds(reader.GetDouble(2)),
                    Definition = JsonSerializer.Deserialize(reader.GetString(3), TrainyardJsonContext.Default.CreateAlgorithmInput)!,
                    Status = reader.GetString(4),
                    ValidationStatuses = JsonSerializer.Deserialize(reader.GetString(5), TrainyardJsonContext.Default.ListAlgorithmStatusItem)!.ToImmutableList(),
                };
                _algorithms[record.Name] = record;
            }
        }
    }

    public IEnumerable<AlgorithmRecord> All => _algorithms.Values;

    public AlgorithmRecord? Get(string name) => _algorithms.TryGetValue(name, out var a) ? a : null;

    /// <summary>By name or by ARN (<c>arn:aws:sagemaker:…:algorithm/name</c>).</summary>
    public AlgorithmRecord? Resolve(string nameOrArn)
    {
        const string Marker = ":algorithm/";
        var at = nameOrArn.IndexOf(Marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return Get(nameOrArn);
        }

        var record = Get(nameOrArn[(at + Marker.Length)..]);
        return record is not null && string.Equals(record.Arn, nameOrArn, StringComparison.OrdinalIgnoreCase) ? record : null;
    }

    public bool TryCreate(AlgorithmRecord record)
    {
        lock (_gate)
        {
            if (_algorithms.ContainsKey(record.Name))
            {
                return false;
            }

            Write(record, insert: true);
            _algorithms[record.Name] = record;
            return true;
        }
    }

    public AlgorithmRecord? Update(string name, Func<AlgorithmRecord, AlgorithmRecord> change)
    {
        lock (_gate)
        {
            if (!_algorithms.TryGetValue(name, out var current))
            {
                return null;
            }

            var next = change(current);
            Write(next, insert: false);
            _algorithms[name] = next;
            return next;
        }
    }

    public bool Delete(string name)
    {
        lock (_gate)
        {
            if (!_algorithms.TryRemove(name, out _))
            {
                return false;
            }

            using var cmd = _db.CreateCommand();
            cmd.CommandText = "DELETE FROM algorithms WHERE name = $name";
            cmd.Parameters.AddWithValue("$name", name);
            cmd.ExecuteNonQuery();
            return true;
        }
    }

    private void Write(AlgorithmRecord record, bool insert)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = insert
            ? "INSERT INTO algorithms (name, arn, creation_time, definition, status, validation) VALUES ($name, $arn, $time, $definition, $status, $validation)"
            : "UPDATE algorithms SET status = $status, validation = $validation WHERE name = $name";
        cmd.Parameters.AddWithValue("$name", record.Name);
        cmd.Parameters.AddWithValue("$status", record.Status);
        cmd.Parameters.AddWithValue("$validation", JsonSerializer.Serialize([.. record.ValidationStatuses], TrainyardJsonContext.Default.ListAlgorithmStatusItem));
        if (insert)
        {
            cmd.Parameters.AddWithValue("$arn", record.Arn);
            cmd.Parameters.AddWithValue("$time", JsonTimestamp.ToSeconds(record.CreationTime));
            cmd.Parameters.AddWithValue("$definition", JsonSerializer.Serialize(record.Definition, TrainyardJsonContext.Default.CreateAlgorithmInput));
        }

        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _db.Dispose();
        }
    }
}
