namespace Trainyard.Jobs;

/// <summary>
/// One thing that happened to a training job, applied with <see cref="JobStore.Apply"/>. <see cref="Message"/>
/// replaces the StatusMessage the table gives the new status (for <see cref="JobEventKind.Note"/> it is the
/// new message; for <see cref="JobEventKind.Fail"/> it is the FailureReason).
/// </summary>
public sealed record JobEvent(JobEventKind Kind, string? Message = null)
{
    public static JobEvent Download { get; } = new(JobEventKind.Download);

    public static JobEvent Train { get; } = new(JobEventKind.Train);

    public static JobEvent Upload { get; } = new(JobEventKind.Upload);

    public static JobEvent Complete { get; } = new(JobEventKind.Complete);

    public static JobEvent Stop { get; } = new(JobEventKind.Stop);

    public static JobEvent TimeOut { get; } = new(JobEventKind.TimeOut);

    public static JobEvent Halt { get; } = new(JobEventKind.Halt);

    public static JobEvent Fail(string failureReason) => new(JobEventKind.Fail, failureReason);

    /// <summary>A new StatusMessage for the status the job is in (it does not change the status).</summary>
    public static JobEvent Note(string message) => new(JobEventKind.Note, message);

    public override string ToString() => Message is null ? Kind.ToString() : $"{Kind} \"{Message}\"";
}
