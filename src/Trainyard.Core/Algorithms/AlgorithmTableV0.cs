using System.Collections.Immutable;
using System.Text.Json;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Algorithms;

/// <summary>
/// The algorithms table of Trainyard before one store served jobs and algorithms (columns arn,
/// creation_time, status, validation): its rows move into the current table the first time a newer
/// server opens the home.
/// </summary>
internal static class AlgorithmTableV0
{
    public static TrainyardDatabase Migrate(TrainyardDatabase db)
    {
        var old = db.Use(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT 1 FROM pragma_table_info('algorithms') WHERE name = 'validation'";
            return cmd.ExecuteScalar() is not null;
        });
        if (!old)
        {
            return db;
        }

        var rows = db.Use(c =>
        {
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT name, arn, creation_time, definition, status, validation FROM algorithms ORDER BY creation_time, name";
            using var reader = cmd.ExecuteReader();
            var list = new List<AlgorithmRecord>();
            while (reader.Read())
            {
                list.Add(new AlgorithmRecord
                {
                    Name = reader.GetString(0),
                    Sequence = list.Count + 1,
                    Arn = reader.GetString(1),
                    CreationTime = JsonTimestamp.FromSeconds(reader.GetDouble(2)),
                    Definition = JsonSerializer.Deserialize(reader.GetString(3), TrainyardJsonContext.Default.CreateAlgorithmInput)!,
                    Status = Enum.Parse<AlgorithmStatus>(reader.GetString(4)),
                    Validations = JsonSerializer.Deserialize(reader.GetString(5), TrainyardJsonContext.Default.ListAlgorithmStatusItem)!
                        .Select(v => new ProfileValidation { Name = v.Name, Status = Enum.Parse<DetailedAlgorithmStatus>(v.Status), FailureReason = v.FailureReason })
                        .ToImmutableList(),
                });
            }

            return list;
        });

        // One transaction: a crash leaves the old table as it was, to be migrated at the next start.
        db.Execute("BEGIN IMMEDIATE");
        db.Execute("ALTER TABLE algorithms RENAME TO algorithms_v0");
        var store = new AlgorithmStore(db);
        foreach (var row in rows)
        {
            store.TryCreate(row);
        }

        db.Execute("DROP TABLE algorithms_v0");
        db.Execute("COMMIT");
        return db;
    }
}
