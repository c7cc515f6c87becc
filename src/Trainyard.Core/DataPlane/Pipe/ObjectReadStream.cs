using Trainyard.Storage;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// An object's (decompressed) content that turns the decoder's <see cref="InvalidDataException"/> into a
/// <see cref="PipeChannelException"/> naming the object, so a bad gzip object fails the job with a reason.
/// </summary>
internal sealed class ObjectReadStream(Stream inner, string description) : OwningReadStream(inner)
{
    public override int Read(Span<byte> buffer)
    {
        try
        {
            return Inner.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw Fail(e);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw Fail(e);
        }
    }

    private PipeChannelException Fail(InvalidDataException e) =>
        new($"{description} is not valid gzip data ({e.Message}).", e);
}
