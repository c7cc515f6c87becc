using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Jobs;

/// <summary>A job in its table: the request as accepted in the definition column, the rest of the record as its state.</summary>
internal sealed class JobRecordCodec : IRecordCodec<JobRecord>
{
    private static readonly JsonTypeInfo<JobRecord> StateType = StateJson.For<JobRecord>(JobsJsonContext.Default, JobRecord.NotInState);

    public string Definition(JobRecord record) => record.DefinitionJson;

    public string State(JobRecord record) => JsonSerializer.Serialize(record, StateType);

    public JobRecord Decode(string name, long sequence, string definition, string state)
    {
        var request = JsonSerializer.Deserialize(definition, TrainyardJsonContext.Default.CreateTrainingJobRequest)!;
        var record = JsonSerializer.Deserialize(state, StateType)!;
        return record with
        {
            Name = name,
            Sequence = sequence,
            Definition = request,
            DefinitionJson = definition,
            ImagePath = record.ImagePath ?? request.AlgorithmSpecification.TrainingImage ?? "",
        };
    }
}
