using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// Just enough of an S3 client for the FastFile bench against an S3-compatible server that accepts
/// anonymous path-style requests (s3rver): list, head, ranged GET. Not Trainyard's S3 store (that one
/// uses AWSSDK.S3); it exists so the bench can compare the mount with s3fs on the same endpoint today.
/// </summary>
internal sealed class HttpS3Store(Uri endpoint) : IObjectStore, IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = endpoint, Timeout = Timeout.InfiniteTimeSpan };

    public string Name => "http-s3";

    public async IAsyncEnumerable<ObjectInfo> ListAsync(S3Location prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? token = null;
        do
        {
            var url = $"/{prefix.Bucket}?list-type=2&prefix={Uri.EscapeDataString(prefix.Key)}" + (token is null ? "" : "&continuation-token=" + Uri.EscapeDataString(token));
            var xml = XDocument.Parse(await _http.GetStringAsync(new Uri(url, UriKind.Relative), cancellationToken));
            var root = xml.Root!;
            var ns = root.Name.Namespace; // AWS and s3rver differ
            foreach (var c in root.Elements(ns + "Contents"))
            {
                yield return new ObjectInfo(new S3Location(prefix.Bucket, c.Element(ns + "Key")!.Value), long.Parse(c.Element(ns + "Size")!.Value, CultureInfo.InvariantCulture),
                    DateTimeOffset.Parse(c.Element(ns + "LastModified")!.Value, CultureInfo.InvariantCulture));
            }

            token = root.Element(ns + "IsTruncated")?.Value == "true" ? root.Element(ns + "NextContinuationToken")?.Value : null;
        }
        while (token is not null);
    }

    public async Task<ObjectInfo?> HeadAsync(S3Location location, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, Path(location));
        using var response = await _http.SendAsync(request, cancellationToken);
        return response.StatusCode == HttpStatusCode.NotFound ? null
            : new ObjectInfo(location, response.Content.Headers.ContentLength ?? 0, response.Content.Headers.LastModified ?? DateTimeOffset.UnixEpoch);
    }

    public async Task<Stream> OpenReadAsync(S3Location location, long offset, long? length, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Path(location));
        request.Headers.Range = new RangeHeaderValue(offset, length is { } l ? offset + l - 1 : null);
        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            response.Dispose();
            throw new ObjectStoreException($"GET {location}: {(int)response.StatusCode}");
        }

        return await response.Content.ReadAsStreamAsync(cancellationToken);
    }

    public async Task PutAsync(S3Location location, string file, CancellationToken cancellationToken)
    {
        using var bucket = await _http.PutAsync(new Uri("/" + location.Bucket, UriKind.Relative), null, cancellationToken);
        await using var stream = File.OpenRead(file);
        using var content = new StreamContent(stream, 1 << 20);
        content.Headers.ContentLength = stream.Length;
        using var response = await _http.PutAsync(Path(location), content, cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    public Task DownloadAsync(ObjectInfo source, string destinationPath, IProgress<long>? progress, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task<long> UploadAsync(S3Location location, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken) => throw new NotSupportedException();

    public Task DeleteAsync(S3Location location, CancellationToken cancellationToken) => throw new NotSupportedException();

    public void Dispose() => _http.Dispose();

    private static Uri Path(S3Location location) =>
        new("/" + location.Bucket + "/" + string.Join('/', location.Key.Split('/').Select(Uri.EscapeDataString)), UriKind.Relative);
}
