namespace Trainyard.DataPlane.Pipe;

/// <summary>One line of an augmented manifest: its attributes in AttributeNames order.</summary>
/// <param name="Manifest">The manifest object, for messages.</param>
/// <param name="LineNumber">1-based line number in the manifest.</param>
/// <param name="Attributes">The requested attributes, in the requested order.</param>
public sealed record AugmentedManifestLine(string Manifest, long LineNumber, IReadOnlyList<AugmentedManifestAttribute> Attributes);
