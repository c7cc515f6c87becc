using System.Runtime.CompilerServices;
using Trainyard.Storage;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// What one pass of a channel streams, in order: the objects (or the augmented manifest's attributes),
/// decompressed and wrapped as the channel says. Uncompressed, unwrapped objects of the local store are
/// handed to the writer as open files, which it splices into the FIFO without copying.
/// </summary>
internal sealed class PipeSource(IObjectStore store, IReadOnlyList<ObjectInfo> objects, PipeChannelOptions options)
{
    private List<AugmentedManifestLine>? _manifestLines;

    private bool CanSplice => store is LocalObjectStore && !options.IsGzip && !options.IsRecordIO && !options.IsAugmentedManifest;

    public async Task ProduceAsync(PipeChunkWriter output, int epoch, CancellationToken cancellationToken)
    {
        if (options.IsAugmentedManifest)
        {
            await ProduceAugmentedAsync(output, epoch, cancellationToken).ConfigureAwait(false);
            return;
        }

        var order = ShareOf(options.ShuffleSeed is { } seed ? DeterministicShuffle.Shuffle(objects, seed, epoch) : objects);
        var records = options.IsRecordIO ? new RecordIOWriter(output) : null;
        foreach (var info in order)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (CanSplice)
                {
                    await output.AddFileAsync(OpenLocalFile(info.Location), info.Location.ToString(), cancellationToken).ConfigureAwait(false);
                }
                else if (records is not null)
                {
                    await records.WriteRecordAsync(ct => OpenAsync(info.Location, info.Location.ToString(), ct), cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var stream = await OpenAsync(info.Location, info.Location.ToString(), cancellationToken).ConfigureAwait(false);
                    await using (stream.ConfigureAwait(false))
                    {
                        while (await output.FillFromAsync(stream, cancellationToken).ConfigureAwait(false) > 0)
                        {
                        }
                    }
                }
            }
            catch (Exception e) when (e is ObjectStoreException or InvalidDataException or IOException)
            {
                throw new PipeChannelException($"Channel '{options.ChannelName}': object {info.Location}: {e.Message}", e);
            }
        }
    }

    private async Task ProduceAugmentedAsync(PipeChunkWriter output, int epoch, CancellationToken cancellationToken)
    {
        var records = new RecordIOWriter(output);
        IAsyncEnumerable<AugmentedManifestLine> lines;
        if (options.ShuffleSeed is { } seed)
        {
            // Shuffling lines needs them all; a line is small (attribute values and URIs, not the objects).
            _manifestLines ??= await ToListAsync(ReadManifestsAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
            lines = ShareOf(DeterministicShuffle.Shuffle(_manifestLines, seed, epoch)).ToAsyncEnumerable();
        }
        else if (options.Shard is { } shard)
        {
            lines = ReadManifestsAsync(cancellationToken).Where((_, i) => i % shard.HostCount == shard.HostIndex);
        }
        else
        {
            lines = ReadManifestsAsync(cancellationToken);
        }

        await foreach (var line in lines.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            foreach (var attribute in line.Attributes)
            {
                if (attribute.Reference is not { } reference)
                {
                    await records.WriteRecordAsync(attribute.Value, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                var where = $"{reference} (attribute '{attribute.Name}' of augmented manifest {line.Manifest} line {line.LineNumber})";
                try
                {
                    await records.WriteRecordAsync(ct => OpenAsync(reference, where, ct), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is ObjectStoreException or InvalidDataException or IOException)
                {
                    throw new PipeChannelException($"Channel '{options.ChannelName}': object {where}: {e.Message}", e);
                }
            }
        }
    }

    private IReadOnlyList<T> ShareOf<T>(IReadOnlyList<T> items) => options.Shard is { } shard ? shard.Select(items) : items;

    private async IAsyncEnumerable<AugmentedManifestLine> ReadManifestsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var manifest in objects)
        {
            Stream stream;
            try
            {
                stream = await store.OpenReadAsync(manifest.Location, 0, null, cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectStoreException e)
            {
                throw new PipeChannelException($"Channel '{options.ChannelName}': augmented manifest {manifest.Location}: {e.Message}", e);
            }

            await using (stream.ConfigureAwait(false))
            {
                await foreach (var line in AugmentedManifestReader.ReadAsync(stream, manifest.Location.ToString(), options.AttributeNames!, cancellationToken).ConfigureAwait(false))
                {
                    yield return line;
                }
            }
        }
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items, CancellationToken cancellationToken)
    {
        var list = new List<T>();
        await foreach (var item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            list.Add(item);
        }

        return list;
    }

    private async Task<Stream> OpenAsync(S3Location location, string description, CancellationToken cancellationToken)
    {
        var stream = await store.OpenReadAsync(location, 0, null, cancellationToken).ConfigureAwait(false);
        if (!options.IsGzip)
        {
            return stream;
        }

        return new ObjectReadStream(new GzipDecoder(stream), description);
    }

    private int OpenLocalFile(S3Location location)
    {
        var path = ((LocalObjectStore)store).PathOf(location);
        var fd = Libc.Open(path, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open {path}: {Libc.Describe(Libc.LastError)}");
        }

        _ = Libc.PosixFadvise(fd, 0, 0, Libc.POSIX_FADV_SEQUENTIAL);
        return fd;
    }
}
