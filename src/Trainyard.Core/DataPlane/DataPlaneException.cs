namespace Trainyard.DataPlane;

/// <summary>The channel's data cannot be delivered; the message says which object and why.</summary>
public sealed class DataPlaneException : Exception
{
    public DataPlaneException(string message)
        : base(message)
    {
    }

    public DataPlaneException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
