namespace Trainyard.DataPlane.FastFile;

/// <summary>FUSE cannot be used on this machine (no /dev/fuse, no permission to mount, …): deliver the channel as File mode instead.</summary>
public sealed class FastFileUnavailableException : Exception
{
    public FastFileUnavailableException()
    {
    }

    public FastFileUnavailableException(string message)
        : base(message)
    {
    }

    public FastFileUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
