namespace Trainyard.DataPlane.Pipe;

/// <summary>A channel's data cannot be streamed; the message names the object (and line) for a FailureReason.</summary>
public sealed class PipeChannelException : Exception
{
    public PipeChannelException()
    {
    }

    public PipeChannelException(string message)
        : base(message)
    {
    }

    public PipeChannelException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
