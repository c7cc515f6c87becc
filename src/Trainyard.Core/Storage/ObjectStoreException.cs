namespace Trainyard.Storage;

/// <summary>A store operation failed; the message names the URI and what went wrong, for a FailureReason.</summary>
public sealed class ObjectStoreException : Exception
{
    public ObjectStoreException(string message)
        : base(message)
    {
    }

    public ObjectStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The key cannot be written beside the objects already stored (a directory store cannot hold both <c>x</c> and <c>x/y</c>).</summary>
    public bool IsKeyConflict { get; init; }
}
