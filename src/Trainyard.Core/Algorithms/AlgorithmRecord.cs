using System.Collections.Immutable;
using Trainyard.Model;

namespace Trainyard.Algorithms;

/// <summary>An algorithm resource: its definition as accepted and its validation state.</summary>
public sealed record AlgorithmRecord
{
    public required string Name { get; init; }
    public required string Arn { get; init; }
    public required CreateAlgorithmInput Definition { get; init; }
    public required DateTimeOffset CreationTime { get; init; }

    /// <summary>Pending, InProgress, Completed, Failed or Deleting.</summary>
    public required string Status { get; init; }

    public ImmutableList<AlgorithmStatusItem> ValidationStatuses { get; init; } = [];

    public DescribeAlgorithmOutput Describe() => new()
    {
        AlgorithmName = Name,
        AlgorithmArn = Arn,
        AlgorithmDescription = Definition.AlgorithmDescription,
        CreationTime = CreationTime,
        TrainingSpecification = Definition.TrainingSpecification,
        InferenceSpecification = Definition.InferenceSpecification,
        ValidationSpecification = Definition.ValidationSpecification,
        AlgorithmStatus = Status,
        AlgorithmStatusDetails = new AlgorithmStatusDetails { ValidationStatuses = [.. ValidationStatuses] },
        CertifyForMarketplace = Definition.CertifyForMarketplace ?? false,
    };
}
