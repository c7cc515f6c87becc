namespace Trainyard.Algorithms;

/// <summary>SageMaker's AlgorithmStatus (the service model's enum of that name).</summary>
public enum AlgorithmStatus
{
    Pending,
    InProgress,
    Completed,
    Failed,
    Deleting,
}
