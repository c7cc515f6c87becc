namespace Trainyard.Jobs;

/// <summary>A runner the service has started, and when it has ended.</summary>
internal sealed class RunningJob(JobRunner runner)
{
    public JobRunner Runner { get; } = runner;

    public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
