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

    private const int ScanBufferSize = 1 << 20;

    // Uncompressed objects of the local store are spliced from their files (RecordIO: between headers).
    private LocalObjectStore? SpliceStore => options.IsGzip ? null : store as LocalObjectStore;

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
                if (SpliceStore is { } local)
                {
                    var file = LocalFile.Open(local.PathOf(info.Location));
                    try
                    {
                        if (records is null)
                        {
                            await output.AddFileRangeAsync(file, 0, -1, cancellationToken).ConfigureAwait(false);
                        }
                        else
                        {
                            await AddLocalRecordAsync(output, file, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        file.Release();
                    }
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

    /// <summary>
    /// One RecordIO record whose payload is a local file: a scan finds the magics (through the page cache),
    /// then the frame headers are written and the payload segments between them spliced from the file.
    /// </summary>
    private static async Task AddLocalRecordAsync(PipeChunkWriter output, LocalFile file, CancellationToken cancellationToken)
    {
        if (await TryAddSmallRecordAsync(output, file, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var (positions, length) = ScanForMagic(file);
        var header = new byte[RecordIO.HeaderSize];
        long start = 0;
        foreach (var position in positions)
        {
            RecordIO.WriteHeader(header, start == 0 ? 1 : 2, (int)(position - start));
            await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            if (position > start)
            {
                await output.AddFileRangeAsync(file, start, position - start, cancellationToken).ConfigureAwait(false);
            }

            start = position + 4;
        }

        RecordIO.WriteHeader(header, positions.Count > 0 ? 3 : 0, (int)(length - start));
        await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        if (length > start)
        {
            await output.AddFileRangeAsync(file, start, length - start, cancellationToken).ConfigureAwait(false);
        }

        var padding = RecordIO.PaddingFor(length);
        if (padding > 0)
        {
            await output.WriteAsync(new byte[padding], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A payload that fits the scan buffer is read once, scanned in memory and written from there: its frames
    /// join the writer's chunks with the records around them, so that small records cost one read each and
    /// share the FIFO's writes, instead of a scan, a header write and a splice per segment (measured: the
    /// Pipe side spent more CPU per GB on 256 KiB records than `cat` and the reader together).
    /// </summary>
    private static async Task<bool> TryAddSmallRecordAsync(PipeChunkWriter output, LocalFile file, CancellationToken cancellationToken)
    {
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(file.Descriptor, ownsHandle: false);
        var size = RandomAccess.GetLength(handle);
        if (size > ScanBufferSize)
        {
            return false;
        }

        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ScanBufferSize + 1);
        try
        {
            // One byte more than the file claims: a file that grew since is left to the general path.
            var length = 0;
            int n;
            while (length <= ScanBufferSize && (n = RandomAccess.Read(handle, buffer.AsSpan(length, ScanBufferSize + 1 - length), length)) > 0)
            {
                length += n;
            }

            if (length > ScanBufferSize)
            {
                return false;
            }

            var positions = new List<long>();
            RecordIO.FindMagic(buffer.AsSpan(0, length), 0, positions);
            var header = new byte[RecordIO.HeaderSize];
            var start = 0;
            foreach (var position in positions)
            {
                RecordIO.WriteHeader(header, start == 0 ? 1 : 2, (int)position - start);
                await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
                await output.WriteAsync(buffer.AsMemory(start, (int)position - start), cancellationToken).ConfigureAwait(false);
                start = (int)position + 4;
            }

            RecordIO.WriteHeader(header, positions.Count > 0 ? 3 : 0, length - start);
            await output.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await output.WriteAsync(buffer.AsMemory(start, length - start), cancellationToken).ConfigureAwait(false);
            var padding = RecordIO.PaddingFor(length);
            if (padding > 0)
            {
                await output.WriteAsync(new byte[padding], cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static (List<long> Positions, long Length) ScanForMagic(LocalFile file)
    {
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(file.Descriptor, ownsHandle: false);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(ScanBufferSize);
        try
        {
            var positions = new List<long>();
            long offset = 0; // file offset of buffer[0]
            var carry = 0;
            while (true)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(carry, ScanBufferSize - carry), offset + carry);
                var available = carry + read;
                var whole = read == 0 ? available : available & ~3;
                RecordIO.FindMagic(buffer.AsSpan(0, whole), offset, positions);
                offset += whole;
                carry = available - whole;
                buffer.AsSpan(whole, carry).CopyTo(buffer);
                if (offset > RecordIO.MaxRecordLength)
                {
                    throw new InvalidDataException($"A RecordIO record holds at most {RecordIO.MaxRecordLength} bytes; this payload has more.");
                }

                if (read == 0)
                {
                    return (positions, offset);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
