namespace Trainyard.Algorithms;

/// <summary>One validation profile of an algorithm: its status, why it failed, and the training job that runs it.</summary>
public sealed record ProfileValidation
{
    public required string Name { get; init; }
    public required DetailedAlgorithmStatus Status { get; init; }
    public string? FailureReason { get; init; }

    /// <summary>The validation training job, once created: a restarted server follows it again.</summary>
    public string? JobName { get; init; }
}
