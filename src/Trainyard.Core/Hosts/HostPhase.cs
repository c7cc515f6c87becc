namespace Trainyard.Hosts;

/// <summary>Where one host is in its life, as it reports to the job.</summary>
public enum HostPhase
{
    Preparing,
    Downloading,
    Training,
    Exited,
}
