using Trainyard.Storage;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// One attribute of an augmented-manifest line: a <c>-ref</c> attribute names an object
/// (<see cref="Reference"/>); any other attribute carries its value (<see cref="Value"/>: a JSON string's
/// UTF-8 text, unquoted; any other JSON value's compact JSON text as written in the line).
/// </summary>
public sealed record AugmentedManifestAttribute(string Name, S3Location? Reference, ReadOnlyMemory<byte> Value);
