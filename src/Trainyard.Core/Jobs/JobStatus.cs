namespace Trainyard.Jobs;

/// <summary>SageMaker's TrainingJobStatus and SecondaryStatus values and the messages it shows with them.</summary>
public static class JobStatus
{
    public const string InProgress = "InProgress";
    public const string Completed = "Completed";
    public const string Failed = "Failed";
    public const string Stopping = "Stopping";
    public const string Stopped = "Stopped";

    public static bool IsTerminal(string status) => status is Completed or Failed or Stopped;
}

/// <summary>Secondary statuses, with SageMaker's wording for each transition.</summary>
public static class SecondaryStatus
{
    public const string Starting = "Starting";
    public const string Downloading = "Downloading";
    public const string Training = "Training";
    public const string Uploading = "Uploading";
    public const string Completed = "Completed";
    public const string Failed = "Failed";
    public const string Stopping = "Stopping";
    public const string Stopped = "Stopped";
    public const string MaxRuntimeExceeded = "MaxRuntimeExceeded";
    public const string Interrupted = "Interrupted";

    public const string StartingMessage = "Preparing the instances for training";
    public const string DownloadingMessage = "Downloading input data";
    public const string TrainingMessage = "Training image download completed. Training in progress.";
    public const string UploadingMessage = "Uploading generated training model";
    public const string CompletedMessage = "Training job completed";
    public const string StoppingMessage = "Stopping the training job";
    public const string StoppedMessage = "Training job stopped";
    public const string MaxRuntimeExceededMessage = "Training job runtime exceeded MaxRuntimeInSeconds provided";
}
