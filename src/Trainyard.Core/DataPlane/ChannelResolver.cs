using System.Text.Json;
using Trainyard.Hosts;
using Trainyard.Model;
using Trainyard.Storage;

namespace Trainyard.DataPlane;

/// <summary>
/// Turns a channel's data source into the objects each host receives: every key under an S3Prefix or
/// every entry of a ManifestFile, with the relative path it takes in the channel directory, split per
/// host under ShardedByS3Key (host i of N gets the objects whose index in key order is i mod N: a
/// deterministic, disjoint share whose union is the whole channel).
/// </summary>
public static class ChannelResolver
{
    /// <summary>Lists the channel's objects in key order with their relative paths.</summary>
    public static async Task<List<ChannelObject>> ListAsync(IObjectStore store, Channel channel, CancellationToken cancellationToken)
    {
        var source = channel.DataSource.S3DataSource
            ?? throw new DataPlaneException($"Channel '{channel.ChannelName}' has no S3DataSource; FileSystemDataSource is not supported here.");
        var uri = S3Location.Parse(source.S3Uri);
        var result = new List<ChannelObject>();
        switch (source.S3DataType)
        {
            case "S3Prefix":
                await foreach (var info in store.ListAsync(uri, cancellationToken).ConfigureAwait(false))
                {
                    if (info.Location.Key.EndsWith('/'))
                    {
                        continue; // a "folder" marker, not data
                    }

                    result.Add(new ChannelObject(info, RelativePath(uri, info.Location)));
                }

                break;

            case "ManifestFile":
                await foreach (var entry in ReadManifestAsync(store, uri, cancellationToken).ConfigureAwait(false))
                {
                    result.Add(entry);
                }

                break;

            case "AugmentedManifestFile":
                // Pipe mode streams the manifest itself; its records are read as they are streamed.
                var manifest = await store.HeadAsync(uri, cancellationToken).ConfigureAwait(false)
                    ?? throw new DataPlaneException($"The augmented manifest {uri} does not exist.");
                result.Add(new ChannelObject(manifest, Path.GetFileName(uri.Key)));
                break;

            default:
                throw new DataPlaneException($"Unknown S3DataType '{source.S3DataType}'.");
        }

        foreach (var o in result)
        {
            EnsureInside(o.RelativePath, o.Info.Location);
        }

        return result;
    }

    /// <summary>
    /// Where an object lands below the channel directory: its key with the prefix removed, as SageMaker
    /// does (s3://b/train or s3://b/train/ and key train/a/x.csv give a/x.csv). A prefix that ends inside
    /// a name (s3://b/train/part matching train/part-1.csv) keeps the name: part-1.csv.
    /// </summary>
    public static string RelativePath(S3Location prefix, S3Location key)
    {
        if (prefix.IsFile)
        {
            var root = prefix.Key.TrimEnd('/');
            return key.Key.Length > root.Length + 1 ? key.Key[(root.Length + 1)..] : Path.GetFileName(key.Key);
        }

        var rest = key.Key[prefix.Key.Length..];
        if (prefix.Key.Length == 0 || prefix.Key.EndsWith('/') || rest.StartsWith('/'))
        {
            rest = rest.TrimStart('/');
            return rest.Length > 0 ? rest : Path.GetFileName(key.Key);
        }

        var slash = prefix.Key.LastIndexOf('/');
        return key.Key[(slash + 1)..];
    }

    /// <summary>The share of <paramref name="all"/> that host <paramref name="hostIndex"/> (0-based) of <paramref name="hostCount"/> receives.</summary>
    public static IReadOnlyList<ChannelObject> Share(IReadOnlyList<ChannelObject> all, string distribution, int hostIndex, int hostCount)
    {
        if (distribution != "ShardedByS3Key" || hostCount <= 1)
        {
            return all;
        }

        var share = new List<ChannelObject>(all.Count / hostCount + 1);
        for (var i = hostIndex; i < all.Count; i += hostCount)
        {
            share.Add(all[i]);
        }

        return share;
    }

    /// <summary>Refuses a relative path that would land outside the channel directory.</summary>
    public static void EnsureInside(string relative, S3Location source)
    {
        if (relative.Length == 0 || relative.StartsWith('/') || relative.Contains('\0', StringComparison.Ordinal)
            || relative.Split('/').Any(segment => segment is ".." or "."))
        {
            throw new DataPlaneException($"Refused {source}: its key would be written to '{relative}', outside the channel directory.");
        }
    }

    // A manifest is a JSON array: [{"prefix": "s3://bucket/prefix/"}, "relative/key1", "relative/key2", …].
    private static async IAsyncEnumerable<ChannelObject> ReadManifestAsync(IObjectStore store, S3Location uri, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        JsonDocument doc;
        try
        {
            await using var stream = await store.OpenReadAsync(uri, 0, null, cancellationToken).ConfigureAwait(false);
            doc = await JsonDocument.ParseAsync(stream, default, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw new DataPlaneException($"The manifest {uri} is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0
                || root[0].ValueKind != JsonValueKind.Object || !root[0].TryGetProperty("prefix", out var prefixElement)
                || prefixElement.ValueKind != JsonValueKind.String)
            {
                throw new DataPlaneException($"The manifest {uri} must be a JSON array whose first element is {{\"prefix\": \"s3://bucket/prefix/\"}}.");
            }

            if (!S3Location.TryParse(prefixElement.GetString()!, out var prefix))
            {
                throw new DataPlaneException($"The manifest {uri} has an invalid prefix '{prefixElement.GetString()}'.");
            }

            for (var i = 1; i < root.GetArrayLength(); i++)
            {
                var element = root[i];
                if (element.ValueKind != JsonValueKind.String)
                {
                    throw new DataPlaneException($"Entry {i} of the manifest {uri} is not a string.");
                }

                var relative = element.GetString()!;
                var location = prefix.Append(relative);
                EnsureInside(relative, location);
                var info = await store.HeadAsync(location, cancellationToken).ConfigureAwait(false)
                    ?? throw new DataPlaneException($"{location}, listed in the manifest {uri}, does not exist.");
                yield return new ChannelObject(info, relative);
            }
        }
    }
}
