namespace Trainyard.Persistence;

/// <summary>What a <see cref="RecordStore{T}"/> keys, orders and pages its records by.</summary>
public interface IStoredRecord
{
    /// <summary>The resource's name, unique case-insensitively.</summary>
    string Name { get; }

    /// <summary>The order in which the records were created (creation-time ties, the queue's order).</summary>
    long Sequence { get; }

    DateTimeOffset CreationTime { get; }
}
