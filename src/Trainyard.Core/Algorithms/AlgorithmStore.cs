using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Algorithms;

/// <summary>The algorithm resources of a home, in the same kind of table as its training jobs.</summary>
public sealed class AlgorithmStore(TrainyardDatabase db) : RecordStore<AlgorithmRecord>(AlgorithmTableV0.Migrate(db), "algorithms", new Codec())
{
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

    /// <summary>Applies <paramref name="change"/> under the algorithm's lock; null leaves it as it is.</summary>
    public AlgorithmRecord? Update(string name, Func<AlgorithmRecord, AlgorithmRecord?> change) => Change(name, change);

    /// <summary>Deletes the algorithm if <paramref name="allowed"/> (checked under its lock).</summary>
    public bool Delete(string name, Func<AlgorithmRecord, bool> allowed) => Remove(name, allowed);

    private sealed class Codec : IRecordCodec<AlgorithmRecord>
    {
        private static readonly JsonTypeInfo<AlgorithmRecord> StateType = StateJson.For<AlgorithmRecord>(AlgorithmsJsonContext.Default, AlgorithmRecord.NotInState);

        public string Definition(AlgorithmRecord record) => JsonSerializer.Serialize(record.Definition, TrainyardJsonContext.Default.CreateAlgorithmInput);

        public string State(AlgorithmRecord record) => JsonSerializer.Serialize(record, StateType);

        public AlgorithmRecord Decode(string name, long sequence, string definition, string state) =>
            JsonSerializer.Deserialize(state, StateType)! with
            {
                Name = name,
                Sequence = sequence,
                Definition = JsonSerializer.Deserialize(definition, TrainyardJsonContext.Default.CreateAlgorithmInput)!,
            };
    }
}
