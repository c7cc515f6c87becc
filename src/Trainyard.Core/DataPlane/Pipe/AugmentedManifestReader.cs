using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Trainyard.Storage;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// Reads an augmented manifest (JSON lines, one JSON object per line) one line at a time and picks each
/// line's attributes in AttributeNames order. Blank lines are skipped. Any other defect — a line that is not
/// a JSON object, a missing attribute, a <c>-ref</c> that is not an S3 URI — fails with a
/// <see cref="PipeChannelException"/> naming the manifest and line.
/// </summary>
public static class AugmentedManifestReader
{
    /// <summary>The suffix that marks an attribute whose value is the URI of an object to stream.</summary>
    public const string ReferenceSuffix = "-ref";

    /// <summary>The lines of <paramref name="manifest"/>, parsed as they are read.</summary>
    public static async IAsyncEnumerable<AugmentedManifestLine> ReadAsync(
        Stream manifest,
        string manifestName,
        IReadOnlyList<string> attributeNames,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(attributeNames);
        using var reader = new StreamReader(manifest, new UTF8Encoding(false, throwOnInvalidBytes: true), detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
        long lineNumber = 0;
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DecoderFallbackException e)
            {
                throw new PipeChannelException($"Augmented manifest {manifestName} line {lineNumber + 1}: not valid UTF-8.", e);
            }

            if (line is null)
            {
                yield break;
            }

            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            yield return ParseLine(line, manifestName, lineNumber, attributeNames);
        }
    }

    /// <summary>Parses one manifest line.</summary>
    public static AugmentedManifestLine ParseLine(string line, string manifestName, long lineNumber, IReadOnlyList<string> attributeNames)
    {
        ArgumentNullException.ThrowIfNull(attributeNames);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new PipeChannelException($"Augmented manifest {manifestName} line {lineNumber}: not valid JSON ({e.Message}).", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new PipeChannelException($"Augmented manifest {manifestName} line {lineNumber}: expected a JSON object, found {root.ValueKind}.");
            }

            var attributes = new AugmentedManifestAttribute[attributeNames.Count];
            for (var i = 0; i < attributeNames.Count; i++)
            {
                var name = attributeNames[i];
                if (!root.TryGetProperty(name, out var value))
                {
                    throw new PipeChannelException($"Augmented manifest {manifestName} line {lineNumber}: attribute '{name}' is missing.");
                }

                if (name.EndsWith(ReferenceSuffix, StringComparison.Ordinal))
                {
                    if (value.ValueKind != JsonValueKind.String || !S3Location.TryParse(value.GetString()!, out var location) || location.IsFile)
                    {
                        throw new PipeChannelException($"Augmented manifest {manifestName} line {lineNumber}: attribute '{name}' is not an S3 URI: {value.GetRawText()}.");
                    }

                    attributes[i] = new AugmentedManifestAttribute(name, location, ReadOnlyMemory<byte>.Empty);
                }
                else
                {
                    var bytes = value.ValueKind == JsonValueKind.String
                        ? Encoding.UTF8.GetBytes(value.GetString()!)
                        : Encoding.UTF8.GetBytes(value.GetRawText());
                    attributes[i] = new AugmentedManifestAttribute(name, null, bytes);
                }
            }

            return new AugmentedManifestLine(manifestName, lineNumber, attributes);
        }
    }
}
