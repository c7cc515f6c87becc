namespace Trainyard.Algorithms;

/// <summary>SageMaker's DetailedAlgorithmStatus: how far one validation profile has got.</summary>
public enum DetailedAlgorithmStatus
{
    NotStarted,
    InProgress,
    Completed,
    Failed,
}
