using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Trainyard.Images.Oci;
using Trainyard.Storage;

namespace Trainyard.Images.Registry;

/// <summary>
/// A client of the OCI distribution API (Docker Registry HTTP API v2): manifests and blobs, with the
/// bearer-token dance (<c>WWW-Authenticate: Bearer realm=…,service=…,scope=…</c>) and basic auth from
/// <see cref="RegistryCredentials"/>. HTTPS always; plain HTTP only for a loopback registry (as Docker
/// allows) or one named in <see cref="RegistryOptions.InsecureRegistries"/>.
/// </summary>
public sealed class RegistryClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly RegistryOptions _options;
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _schemes = new(StringComparer.Ordinal);

    public RegistryClient(RegistryOptions options)
    {
        _options = options;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.ConnectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            AllowAutoRedirect = true,
        };
        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            errors == System.Net.Security.SslPolicyErrors.None
            || (sender is HttpRequestMessage { RequestUri: { } uri } && options.IsInsecure(uri.Authority));
        _http = new HttpClient(handler) { Timeout = options.ResponseTimeout };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("trainyard/1.0");
    }

    /// <summary>Whether plain HTTP may be used for <paramref name="host"/>: loopback, or named insecure.</summary>
    public bool AllowsHttp(string host) => IsLoopback(host) || _options.IsInsecure(host);

    /// <summary>Fetches a manifest or index by tag or digest; returns its bytes and media type.</summary>
    public async Task<(byte[] Body, string? MediaType)> GetManifestAsync(ImageReference image, string reference, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(image, HttpMethod.Get, $"/v2/{image.Repository}/manifests/{reference}", MediaTypes.ManifestAccept, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorAsync(image, response, $"manifest {reference}", cancellationToken).ConfigureAwait(false);
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return (body, response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Opens a blob; the caller reads and verifies it. The response is disposed with the stream.</summary>
    public async Task<Stream> OpenBlobAsync(ImageReference image, string digest, CancellationToken cancellationToken)
    {
        var response = await SendAsync(image, HttpMethod.Get, $"/v2/{image.Repository}/blobs/{digest}", null, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await ErrorAsync(image, response, $"blob {digest}", cancellationToken).ConfigureAwait(false);
            }
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return new ResponseStream(stream, response);
    }

    private async Task<HttpResponseMessage> SendAsync(ImageReference image, HttpMethod method, string path, string[]? accept, CancellationToken cancellationToken)
    {
        var host = image.RegistryHost;
        var scope = $"repository:{image.Repository}:pull";
        var tokenKey = host + " " + scope;
        string? basic = null;
        var triedCredentials = false;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            using var request = new HttpRequestMessage(method, await BaseUriAsync(host, cancellationToken).ConfigureAwait(false) + path);
            foreach (var a in accept ?? [])
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(a));
            }

            if (_tokens.TryGetValue(tokenKey, out var token))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }
            else if (basic is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
            }

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e)
            {
                throw new ImagePullException($"cannot reach the registry {host}: {Describe(e)}", e);
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw NoAnswer(host, e);
            }

            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                return response;
            }

            var challenge = response.Headers.WwwAuthenticate.FirstOrDefault();
            response.Dispose();
            var credentials = RegistryCredentials.Find(host);
            if (challenge is null)
            {
                break;
            }

            if (triedCredentials)
            {
                throw new ImagePullException(credentials is null
                    ? $"the registry {host} requires credentials; log in with `docker login {host}` or `podman login {host}`, or point REGISTRY_AUTH_FILE at an auth file"
                    : $"the registry {host} refused the credentials for user '{credentials.Value.User}' (from {string.Join(", ", RegistryCredentials.Files().Where(File.Exists))})");
            }

            triedCredentials = true;
            if (challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            {
                _tokens[tokenKey] = await FetchTokenAsync(host, challenge.Parameter ?? "", scope, credentials, cancellationToken).ConfigureAwait(false);
            }
            else if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
            {
                if (credentials is null)
                {
                    throw new ImagePullException($"the registry {host} requires credentials; log in with `docker login {host}` or `podman login {host}`, or point REGISTRY_AUTH_FILE at an auth file");
                }

                basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.Value.User}:{credentials.Value.Password}"));
            }
            else
            {
                throw new ImagePullException($"the registry {host} asks for '{challenge.Scheme}' authentication, which Trainyard does not speak");
            }
        }

        throw new ImagePullException($"the registry {host} refused access to {image.Repository} (401 Unauthorized)");
    }

    private async Task<string> FetchTokenAsync(string host, string parameters, string scope, (string User, string Password)? credentials, CancellationToken cancellationToken)
    {
        var values = ParseChallenge(parameters);
        if (!values.TryGetValue("realm", out var realm))
        {
            throw new ImagePullException($"the registry {host} asked for a bearer token without saying where to get one");
        }

        var query = new List<string>();
        if (values.TryGetValue("service", out var service))
        {
            query.Add("service=" + Uri.EscapeDataString(service));
        }

        query.Add("scope=" + Uri.EscapeDataString(values.GetValueOrDefault("scope") ?? scope));
        var uri = realm + (realm.Contains('?', StringComparison.Ordinal) ? "&" : "?") + string.Join("&", query);
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (credentials is { } c)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{c.User}:{c.Password}")));
        }

        try
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            {
                throw new ImagePullException(credentials is null
                    ? $"the registry {host} requires credentials; log in with `docker login {host}` or `podman login {host}`, or point REGISTRY_AUTH_FILE at an auth file"
                    : $"the registry {host} refused the credentials for user '{credentials.Value.User}'");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new ImagePullException($"the token service {realm} of the registry {host} answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            foreach (var name in new[] { "token", "access_token" })
            {
                if (doc.RootElement.TryGetProperty(name, out var token) && token.GetString() is { Length: > 0 } value)
                {
                    return value;
                }
            }

            throw new ImagePullException($"the token service {realm} of the registry {host} returned no token");
        }
        catch (HttpRequestException e)
        {
            throw new ImagePullException($"cannot reach the token service {realm} of the registry {host}: {Describe(e)}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw NoAnswer(host, e);
        }
        catch (JsonException e)
        {
            throw new ImagePullException($"the token service {realm} of the registry {host} returned something that is not JSON: {e.Message}", e);
        }
    }

    private async Task<string> BaseUriAsync(string host, CancellationToken cancellationToken)
    {
        if (_schemes.TryGetValue(host, out var known))
        {
            return known;
        }

        var https = "https://" + host;
        if (!AllowsHttp(host))
        {
            return _schemes[host] = https;
        }

        // Docker's rule for loopback and insecure registries: HTTPS when the registry speaks it, else HTTP.
        try
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, https + "/v2/");
            using var response = await _http.SendAsync(probe, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            return _schemes[host] = https;
        }
        catch (HttpRequestException e) when (e.InnerException is System.Security.Authentication.AuthenticationException or IOException || e.HttpRequestError is HttpRequestError.SecureConnectionError or HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded)
        {
            return _schemes[host] = "http://" + host;
        }
        catch (HttpRequestException e)
        {
            throw new ImagePullException($"cannot reach the registry {host}: {Describe(e)}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw NoAnswer(host, e);
        }
    }

    private ImagePullException NoAnswer(string host, Exception e) =>
        new($"the registry {host} did not answer within {_options.ResponseTimeout.TotalSeconds:0} s", e);

    private static async Task<ImagePullException> ErrorAsync(ImageReference image, HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        var detail = "";
        try
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array && errors.GetArrayLength() > 0)
            {
                var first = errors[0];
                detail = $" ({first.GetProperty("code").GetString()}: {(first.TryGetProperty("message", out var m) ? m.GetString() : "")})";
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or HttpRequestException)
        {
            // not a registry error body
        }

        return response.StatusCode switch
        {
            HttpStatusCode.NotFound => new ImagePullException($"the registry {image.RegistryHost} has no {what} for {image.Repository}: the image does not exist{detail}"),
            HttpStatusCode.Forbidden => new ImagePullException($"the registry {image.RegistryHost} denies access to {image.Repository}{detail}"),
            _ => new ImagePullException($"the registry {image.RegistryHost} answered {(int)response.StatusCode} {response.ReasonPhrase} for the {what} of {image.Repository}{detail}"),
        };
    }

    private static Dictionary<string, string> ParseChallenge(string parameters)
    {
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var i = 0;
        while (i < parameters.Length)
        {
            while (i < parameters.Length && (parameters[i] == ',' || parameters[i] == ' '))
            {
                i++;
            }

            var eq = parameters.IndexOf('=', i);
            if (eq < 0)
            {
                break;
            }

            var key = parameters[i..eq].Trim();
            i = eq + 1;
            string value;
            if (i < parameters.Length && parameters[i] == '"')
            {
                var end = parameters.IndexOf('"', i + 1);
                end = end < 0 ? parameters.Length : end;
                value = parameters[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var end = parameters.IndexOf(',', i);
                end = end < 0 ? parameters.Length : end;
                value = parameters[i..end].Trim();
                i = end;
            }

            values[key] = value;
        }

        return values;
    }

    private static bool IsLoopback(string hostWithPort)
    {
        var host = hostWithPort;
        if (host.StartsWith('['))
        {
            host = host[1..host.IndexOf(']', StringComparison.Ordinal)];
        }
        else if (host.LastIndexOf(':') is var colon and > 0)
        {
            host = host[..colon];
        }

        return host == "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
    }

    private static string Describe(HttpRequestException e) =>
        e.InnerException is SocketException s ? $"{s.SocketErrorCode} ({s.Message})" : e.InnerException?.Message ?? e.Message;

    public void Dispose() => _http.Dispose();

    /// <summary>A response body that disposes its response.</summary>
    private sealed class ResponseStream(Stream inner, HttpResponseMessage response) : OwningReadStream(inner)
    {
        public override int Read(Span<byte> buffer) => Inner.Read(buffer);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Inner.ReadAsync(buffer, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (disposing)
            {
                response.Dispose();
            }
        }
    }
}
