using System.Net;
using System.Net.Sockets;

namespace Trainyard.Tests.Support;

/// <summary>
/// A registry front that speaks the distribution spec's token authentication, as Docker Hub, ECR's
/// front end and Harbor do: requests without the bearer token get a 401 with a <c>WWW-Authenticate: Bearer
/// realm=…,service=…,scope=…</c> challenge; the realm hands out the token; requests with it go through to a
/// real registry behind.
/// </summary>
public sealed class BearerTokenProxy : IDisposable
{
    public const string Token = "token-for-trainyard-tests";

    private readonly HttpListener _listener = new();
    private readonly HttpClient _upstream = new();
    private readonly string _upstreamAddress;
    private readonly Task _loop;
    private int _tokensIssued;

    public BearerTokenProxy(string upstreamAddress)
    {
        _upstreamAddress = upstreamAddress;
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        Address = $"127.0.0.1:{port}";
        _listener.Prefixes.Add($"http://{Address}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public string Address { get; }

    public int TokensIssued => Volatile.Read(ref _tokensIssued);

    /// <summary>The scopes the token service was asked for.</summary>
    public List<string> Scopes { get; } = [];

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        try
        {
            var path = request.Url!.AbsolutePath;
            if (path == "/token")
            {
                lock (Scopes)
                {
                    Scopes.Add(request.QueryString["scope"] ?? "");
                }

                Interlocked.Increment(ref _tokensIssued);
                response.ContentType = "application/json";
                await response.OutputStream.WriteAsync(System.Text.Encoding.UTF8.GetBytes($"{{\"token\":\"{Token}\",\"expires_in\":300}}"));
                return;
            }

            if (request.Headers["Authorization"] != "Bearer " + Token)
            {
                var repository = path.StartsWith("/v2/", StringComparison.Ordinal) && path.IndexOf("/manifests/", StringComparison.Ordinal) is var m and > 0
                    ? path[4..m]
                    : path.StartsWith("/v2/", StringComparison.Ordinal) && path.IndexOf("/blobs/", StringComparison.Ordinal) is var b and > 0 ? path[4..b] : null;
                response.StatusCode = 401;
                response.Headers["WWW-Authenticate"] = $"Bearer realm=\"http://{Address}/token\",service=\"trainyard-tests\""
                    + (repository is null ? "" : $",scope=\"repository:{repository}:pull\"");
                return;
            }

            using var forward = new HttpRequestMessage(new HttpMethod(request.HttpMethod), $"http://{_upstreamAddress}{request.Url.PathAndQuery}");
            foreach (var accept in request.AcceptTypes ?? [])
            {
                forward.Headers.TryAddWithoutValidation("Accept", accept);
            }

            using var answer = await _upstream.SendAsync(forward, HttpCompletionOption.ResponseHeadersRead);
            response.StatusCode = (int)answer.StatusCode;
            if (answer.Content.Headers.ContentType is { } type)
            {
                response.ContentType = type.ToString();
            }

            if (answer.Headers.TryGetValues("Docker-Content-Digest", out var digest))
            {
                response.Headers["Docker-Content-Digest"] = digest.First();
            }

            if (answer.Content.Headers.ContentLength is { } length)
            {
                response.ContentLength64 = length;
            }

            await (await answer.Content.ReadAsStreamAsync()).CopyToAsync(response.OutputStream);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or HttpRequestException)
        {
            // the client went away
        }
        finally
        {
            try
            {
                response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _upstream.Dispose();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }
}
