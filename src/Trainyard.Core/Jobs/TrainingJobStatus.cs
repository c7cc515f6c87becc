namespace Trainyard.Jobs;

/// <summary>SageMaker's TrainingJobStatus (the service model's enum of that name, in its order).</summary>
public enum TrainingJobStatus
{
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
}
