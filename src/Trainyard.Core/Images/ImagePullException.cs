namespace Trainyard.Images;

/// <summary>An image cannot be pulled or unpacked; the message names the cause (the caller adds the image).</summary>
public sealed class ImagePullException : Exception
{
    public ImagePullException(string message)
        : base(message)
    {
    }

    public ImagePullException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ImagePullException()
    {
    }
}
