using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Algorithms;

/// <summary>An algorithm resource: its definition as accepted and its validation state.</summary>
public sealed record AlgorithmRecord : IStoredRecord
{
    /// <summary>The name, sequence and definition are stored in columns of their own, not in the state.</summary>
    internal static readonly string[] NotInState = [nameof(Name), nameof(Sequence), nameof(Definition)];

    public required string Name { get; init; }
    public required long Sequence { get; init; }
    public required CreateAlgorithmInput Definition { get; init; }
    public required string Arn { get; init; }

    [JsonConverter(typeof(JsonTimestamp))]
    public required DateTimeOffset CreationTime { get; init; }

    public required AlgorithmStatus Status { get; init; }

    public ImmutableList<ProfileValidation> Validations { get; init; } = [];

    public DescribeAlgorithmOutput Describe() => new()
    {
        AlgorithmName = Name,
        AlgorithmArn = Arn,
        AlgorithmDescription = Definition.AlgorithmDescription,
        CreationTime = CreationTime,
        TrainingSpecification = Definition.TrainingSpecification,
        InferenceSpecification = Definition.InferenceSpecification,
        ValidationSpecification = Definition.ValidationSpecification,
        AlgorithmStatus = Status.ToString(),
        AlgorithmStatusDetails = new AlgorithmStatusDetails
        {
            ValidationStatuses = [.. Validations.Select(v => new AlgorithmStatusItem { Name = v.Name, Status = v.Status.ToString(), FailureReason = v.FailureReason })],
        },
        CertifyForMarketplace = Definition.CertifyForMarketplace ?? false,
    };
}
