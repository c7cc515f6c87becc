namespace Trainyard.Jobs;

/// <summary>
/// One row of <see cref="JobStateMachine"/>'s table: in secondary status <see cref="From"/>, event
/// <see cref="On"/> moves the job to (<see cref="Status"/>, <see cref="To"/>) with StatusMessage
/// <see cref="Message"/>. A row with <see cref="IfStopReason"/> applies only to a job stopping for that reason.
/// </summary>
public sealed record JobTransition(SecondaryStatus From, JobEventKind On, TrainingJobStatus Status, SecondaryStatus To, string Message,
    SecondaryStatus? IfStopReason = null);
