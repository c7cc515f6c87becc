namespace Trainyard.DataPlane.Pipe;

/// <summary>How one Pipe-mode channel is delivered; the values are the Channel's wire values.</summary>
/// <param name="ChannelName">The channel; its FIFOs are <c>&lt;dataDir&gt;/&lt;ChannelName&gt;_&lt;epoch&gt;</c>.</param>
/// <param name="CompressionType"><c>None</c> or <c>Gzip</c> (objects are decompressed on the fly; for
/// <c>AugmentedManifestFile</c> this applies to the referenced objects, not to the manifest).</param>
/// <param name="RecordWrapperType"><c>None</c> or <c>RecordIO</c> (each object becomes one RecordIO record).
/// <c>AugmentedManifestFile</c> channels are always RecordIO: one record per attribute.</param>
/// <param name="ShuffleSeed">ShuffleConfig.Seed: when set, each epoch streams in a deterministic shuffled order.</param>
/// <param name="S3DataType"><c>S3Prefix</c>, <c>ManifestFile</c> (the caller resolves the manifest into the
/// object list; streamed as <c>S3Prefix</c>) or <c>AugmentedManifestFile</c>.</param>
/// <param name="AttributeNames">For <c>AugmentedManifestFile</c>: the attributes of each line, in stream order.</param>
/// <param name="Shard">Null: the objects passed are this host's share (the caller sharded them). Set: the
/// objects are the whole channel and each epoch is sharded here, after shuffling (see <see cref="PipeShard"/>);
/// for <c>AugmentedManifestFile</c> the lines are sharded.</param>
public sealed record PipeChannelOptions(
    string ChannelName,
    string CompressionType,
    string RecordWrapperType,
    long? ShuffleSeed,
    string S3DataType,
    IReadOnlyList<string>? AttributeNames,
    PipeShard? Shard = null)
{
    internal bool IsGzip => string.Equals(CompressionType, "Gzip", StringComparison.OrdinalIgnoreCase);

    internal bool IsRecordIO => string.Equals(RecordWrapperType, "RecordIO", StringComparison.OrdinalIgnoreCase);

    internal bool IsAugmentedManifest => string.Equals(S3DataType, "AugmentedManifestFile", StringComparison.Ordinal);
}
