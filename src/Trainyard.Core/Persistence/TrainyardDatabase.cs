using Microsoft.Data.Sqlite;

namespace Trainyard.Persistence;

/// <summary>
/// The home's SQLite database (<c>&lt;home&gt;/trainyard.db</c>): one connection, written by one
/// writer at a time, shared by every <see cref="RecordStore{T}"/>. Only the owner of the home opens it.
/// </summary>
public sealed class TrainyardDatabase : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _gate = new();

    public TrainyardDatabase(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        _db.Open();
        Execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;");
    }

    /// <summary>Runs <paramref name="use"/> with the connection, alone.</summary>
    public T Use<T>(Func<SqliteConnection, T> use)
    {
        lock (_gate)
        {
            return use(_db);
        }
    }

    public void Execute(string sql, params (string Name, object Value)[] parameters) => Use(db =>
    {
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            cmd.Parameters.AddWithValue(name, value);
        }

        return cmd.ExecuteNonQuery();
    });

    public void Dispose()
    {
        lock (_gate)
        {
            _db.Dispose();
        }
    }
}
