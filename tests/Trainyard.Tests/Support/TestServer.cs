using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Trainyard.Api;

namespace Trainyard.Tests.Support;

/// <summary>A real Trainyard server (Kestrel on a free loopback port) over a temporary home.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly TempDirectory _home;
    private readonly HttpClient _http;

    private TestServer(TempDirectory home, TrainyardServer server, TrainyardOptions options)
    {
        _home = home;
        Server = server;
        Options = options;
        _http = new HttpClient { BaseAddress = server.Address };
    }

    public TrainyardServer Server { get; }

    public TrainyardOptions Options { get; }

    public Uri Address => Server.Address;

    public string Home => _home.Path;

    /// <summary>The local object store's root.</summary>
    public string Objects => Options.ObjectStoreDirectory;

    public static async Task<TestServer> StartAsync(Func<TrainyardOptions, TrainyardOptions>? configure = null, TempDirectory? home = null,
        IReadOnlyDictionary<string, Func<IServiceProvider, Trainyard.Executors.IExecutor>>? executors = null)
    {
        home ??= new TempDirectory("home");
        var options = new TrainyardOptions { Home = home.Path, StopGracePeriod = TimeSpan.FromSeconds(3) };
        if (configure is not null)
        {
            options = configure(options);
        }

        var server = await TrainyardServer.StartAsync(options, executors: executors);
        return new TestServer(home, server, options);
    }

    /// <summary>Puts an object into the local store at s3://bucket/key.</summary>
    public string PutObject(string bucket, string key, string content) => PutObject(bucket, key, Encoding.UTF8.GetBytes(content));

    public string PutObject(string bucket, string key, byte[] content)
    {
        var path = Path.Combine(Objects, bucket, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return $"s3://{bucket}/{key}";
    }

    /// <summary>Calls an operation the way the AWS SDKs do; returns the status and the parsed body.</summary>
    public async Task<(int Status, JsonNode? Body)> CallAsync(string operation, string body, string? target = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", target ?? "SageMaker." + operation);
        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public Task<(int Status, JsonNode? Body)> CallAsync(string operation, JsonNode body) => CallAsync(operation, body.ToJsonString());

    public async Task<JsonNode> CreateAsync(JsonObject request)
    {
        var (status, body) = await CallAsync("CreateTrainingJob", request);
        Assert.True(status == 200, $"CreateTrainingJob answered {status}: {body?.ToJsonString()}");
        return body!;
    }

    public async Task<JsonNode> DescribeAsync(string name)
    {
        var (status, body) = await CallAsync("DescribeTrainingJob", new JsonObject { ["TrainingJobName"] = name });
        Assert.True(status == 200, $"DescribeTrainingJob answered {status}: {body?.ToJsonString()}");
        return body!;
    }

    /// <summary>Waits until the job has ended and returns its final description.</summary>
    public async Task<JsonNode> WaitForEndAsync(string name, TimeSpan? timeout = null)
    {
        await Poll.UntilAsync(() => Server.Store.Get(name) is { IsTerminal: true }, timeout ?? TimeSpan.FromSeconds(60), $"job {name} to end");
        return await DescribeAsync(name);
    }

    public async Task WaitForSecondaryAsync(string name, string secondary, TimeSpan? timeout = null) =>
        await Poll.UntilAsync(() => Server.Store.Get(name)?.SecondaryStatus.ToString() == secondary, timeout ?? TimeSpan.FromSeconds(30), $"job {name} to reach {secondary}");

    public string LogOf(string name)
    {
        var dir = Path.Combine(Options.JobDirectory(name), "logs");
        return Directory.Exists(dir) ? string.Join("\n", Directory.GetFiles(dir, "*.log").Order().Select(File.ReadAllText)) : "";
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await Server.DisposeAsync();
        _home.Dispose();
    }
}
