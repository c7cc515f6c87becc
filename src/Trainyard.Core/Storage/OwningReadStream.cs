namespace Trainyard.Storage;

/// <summary>A <see cref="ReadOnlyStream"/> over another stream, which it owns: disposing this disposes that.</summary>
public abstract class OwningReadStream(Stream inner) : ReadOnlyStream
{
    /// <summary>The stream read from.</summary>
    protected Stream Inner { get; } = inner;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await Inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
