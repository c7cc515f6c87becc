namespace Trainyard.Jobs;

/// <summary>
/// SageMaker's SecondaryStatus (the service model's enum of that name, in its order). Which of them a
/// job passes through, and on which events, is <see cref="JobStateMachine"/>'s table.
/// </summary>
public enum SecondaryStatus
{
    Starting,
    LaunchingMLInstances,
    PreparingTrainingStack,
    Downloading,
    DownloadingTrainingImage,
    Training,
    Uploading,
    Stopping,
    Stopped,
    MaxRuntimeExceeded,
    Completed,
    Failed,
    Interrupted,
    MaxWaitTimeExceeded,
    Updating,
    Restarting,
}
