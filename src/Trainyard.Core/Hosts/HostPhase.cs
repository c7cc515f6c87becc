namespace Trainyard.Hosts;

/// <summary>Where one host is in its life, as it reports to the job.</summary>
public enum HostPhase
{
    Preparing,
    Downloading,

    /// <summary>Pulling the container image (SageMaker: Training, "Downloading the training image").</summary>
    PullingImage,
    Training,
    Exited,
}
