namespace Trainyard.Jobs;

/// <summary>What can happen to a training job. <see cref="JobStateMachine"/> says where each one leads from each status.</summary>
public enum JobEventKind
{
    /// <summary>The first host started delivering its input data.</summary>
    Download,

    /// <summary>Every host started its algorithm.</summary>
    Train,

    /// <summary>The hosts ended well: the artifacts are being uploaded.</summary>
    Upload,

    /// <summary>The artifacts are uploaded.</summary>
    Complete,

    /// <summary>StopTrainingJob.</summary>
    Stop,

    /// <summary>MaxRuntimeInSeconds has elapsed.</summary>
    TimeOut,

    /// <summary>The hosts of a stopping job have ended and what they left is uploaded.</summary>
    Halt,

    /// <summary>The job cannot go on (the event carries the FailureReason).</summary>
    Fail,

    /// <summary>A new StatusMessage within the current secondary status (the image pull, the queue position).</summary>
    Note,
}
