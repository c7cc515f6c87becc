using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>Bad input gets a clear 4xx naming the problem — never a 500, never a crash.</summary>
public sealed class BadInputTests
{
    [Fact]
    public async Task MalformedJson_IsASerializationException()
    {
        await using var server = await TestServer.StartAsync();
        var (status, body) = await server.CallAsync("CreateTrainingJob", "{\"TrainingJobName\": ");
        Assert.Equal(400, status);
        Assert.Equal("SerializationException", body!["__type"]!.GetValue<string>());
    }

    [Fact]
    public async Task WrongType_IsASerializationExceptionNamingTheMember()
    {
        await using var server = await TestServer.StartAsync();
        var request = TestJobs.Request("typed", "/x");
        request["StoppingCondition"]!["MaxRuntimeInSeconds"] = "soon";
        request["ResourceConfig"]!["InstanceCount"] = 1.5;
        var (status, body) = await server.CallAsync("CreateTrainingJob", request);
        Assert.Equal(400, status);
        Assert.Equal("SerializationException", body!["__type"]!.GetValue<string>());
        var message = body["message"]!.GetValue<string>();
        Assert.Contains("'stoppingCondition.maxRuntimeInSeconds'", message, StringComparison.Ordinal);
        Assert.Contains("'resourceConfig.instanceCount'", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConstraintViolations_AreAllReportedAtOnceWithMemberPaths()
    {
        await using var server = await TestServer.StartAsync();
        var request = TestJobs.Request("ok-name", "/x", channels: [TestJobs.Channel("bad channel!", "s3://b/p")]);
        request["AlgorithmSpecification"]!["TrainingInputMode"] = "Streaming";
        request["ResourceConfig"]!["InstanceType"] = "ml.huge";
        request.Remove("RoleArn");
        var (status, body) = await server.CallAsync("CreateTrainingJob", request);
        Assert.Equal(400, status);
        Assert.Equal("ValidationException", body!["__type"]!.GetValue<string>());
        var message = body["message"]!.GetValue<string>();
        Assert.StartsWith("4 validation errors detected: ", message, StringComparison.Ordinal);
        Assert.Contains("Value 'Streaming' at 'algorithmSpecification.trainingInputMode' failed to satisfy constraint: Member must satisfy enum value set: [Pipe, File, FastFile]", message, StringComparison.Ordinal);
        Assert.Contains("Value null at 'roleArn' failed to satisfy constraint: Member must not be null", message, StringComparison.Ordinal);
        Assert.Contains("at 'inputDataConfig.1.member.channelName' failed to satisfy constraint: Member must satisfy regular expression pattern", message, StringComparison.Ordinal);
        Assert.Contains("Value 'ml.huge' at 'resourceConfig.instanceType'", message, StringComparison.Ordinal);
        Assert.Equal(0, server.Server.Store.Count);
    }

    [Fact]
    public async Task UnknownTarget_IsUnknownOperationException()
    {
        await using var server = await TestServer.StartAsync();
        var (status, body) = await server.CallAsync("x", "{}", target: "SageMaker.DeleteEverything");
        Assert.Equal(400, status);
        Assert.Equal("UnknownOperationException", body!["__type"]!.GetValue<string>());
    }

    [Fact]
    public async Task DuplicateName_IsResourceInUse()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        await server.CreateAsync(TestJobs.Request("twice", image));
        var (status, body) = await server.CallAsync("CreateTrainingJob", TestJobs.Request("TWICE", image));
        Assert.Equal(400, status);
        Assert.Equal("ResourceInUse", body!["__type"]!.GetValue<string>());
    }

    [Fact]
    public async Task EmptyChannel_IsRefusedBeforeAnyJobExists()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/bin/sh\nexit 0\n");
        server.PutObject("data", "other/x", "x");
        var (status, body) = await server.CallAsync("CreateTrainingJob", TestJobs.Request("empty", image, channels: [TestJobs.Channel("train", "s3://data/nothing-here/")]));
        Assert.Equal(400, status);
        Assert.Equal("ValidationException", body!["__type"]!.GetValue<string>());
        Assert.Contains("No S3 objects found under S3 URL \"s3://data/nothing-here/\"", body["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get("empty"));
    }

    [Fact]
    public async Task ImageThatIsNoReference_SaysHowToMapIt()
    {
        await using var server = await TestServer.StartAsync();
        var (status, body) = await server.CallAsync("CreateTrainingJob", TestJobs.Request("image", "My Algorithm:latest"));
        Assert.Equal(400, status);
        Assert.Contains("--image", body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OversizedBody_Is413AndTheConnectionStaysUsable()
    {
        await using var server = await TestServer.StartAsync();
        var huge = "{\"TrainingJobName\": \"" + new string('a', 3 << 20) + "\"}";
        var (status, body) = await server.CallAsync("CreateTrainingJob", huge);
        Assert.Equal(413, status);
        Assert.Equal("SerializationException", body!["__type"]!.GetValue<string>());
        var (after, _) = await server.CallAsync("ListTrainingJobs", "{}");
        Assert.Equal(200, after);
    }

    [Fact]
    public async Task Fuzz_ThousandsOfGeneratedBodies_NeverA500()
    {
        await using var server = await TestServer.StartAsync();
        var valid = TestJobs.Request("fuzz", "/nonexistent/algorithm", channels: [TestJobs.Channel("train", "s3://b/p")]).ToJsonString();
        var operations = new[] { "CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs", "StopTrainingJob", "AddTags", "ListTags", "DeleteTags" };

        // Mutations of a valid request (values replaced by other JSON values, members dropped, bytes flipped)
        // and arbitrary JSON, sent to every operation.
        var genValue = Gen.OneOf<JsonNode?>(
            Gen.Int[0, 0].Select(_ => (JsonNode?)null),
            Gen.Int.Select(i => (JsonNode?)JsonValue.Create(i)),
            Gen.Long.Select(i => (JsonNode?)JsonValue.Create(i)),
            Gen.Double.Select(d => double.IsFinite(d) ? (JsonNode?)JsonValue.Create(d) : JsonValue.Create(0.5)),
            Gen.String.Select(s => (JsonNode?)JsonValue.Create(s)),
            Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b)),
            Gen.Int[0, 0].Select(_ => (JsonNode?)new JsonArray()),
            Gen.Int[0, 0].Select(_ => (JsonNode?)new JsonObject()));
        var genBody = Gen.OneOf(
            Gen.Select(Gen.Int[0, 200], genValue, Gen.Bool, (index, value, drop) => Mutate(valid, index, value, drop)),
            Gen.Select(Gen.Int[0, valid.Length - 1], Gen.Char, (i, c) => valid[..i] + c + valid[(i + 1)..]),
            Gen.String.Select(s => s),
            genValue.Select(v => v?.ToJsonString() ?? "null"));
        var statuses = new Dictionary<int, int>();
        await Gen.Select(genBody, Gen.Int[0, operations.Length - 1]).SampleAsync(async t =>
        {
            var (body, op) = t;
            var (status, response) = await server.CallAsync(operations[op], body);
            lock (statuses)
            {
                statuses[status] = statuses.GetValueOrDefault(status) + 1;
            }

            Assert.True(status < 500, $"{operations[op]} answered {status} to {body}: {response?.ToJsonString()}");
            if (status >= 400)
            {
                Assert.False(string.IsNullOrEmpty(response?["__type"]?.GetValue<string>()), body);
                Assert.False(string.IsNullOrEmpty(response?["message"]?.GetValue<string>()), body);
            }
        }, iter: 3000, threads: 2);
        Assert.True(statuses.Keys.Any(s => s >= 400), "the fuzzer never produced an error");
        var (alive, _) = await server.CallAsync("ListTrainingJobs", "{}");
        Assert.Equal(200, alive);
    }

    [Theory]
    [InlineData("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}")]
    [InlineData("\u0000\u0001\u0002\u00ff\r\n\r\n")]
    public async Task RawGarbageOnTheSocket_Answers400AndKeepsServing(string request)
    {
        await using var server = await TestServer.StartAsync();
        using (var client = new TcpClient())
        {
            await client.ConnectAsync(server.Address.Host, server.Address.Port);
            var stream = client.GetStream();
            await stream.WriteAsync(Encoding.Latin1.GetBytes(request));

            // The server answers and closes the connection: read until it does.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var reply = new MemoryStream();
            await stream.CopyToAsync(reply, timeout.Token);
            Assert.StartsWith("HTTP/1.1 400 ", Encoding.Latin1.GetString(reply.ToArray()));
        }

        var (status, _) = await server.CallAsync("ListTrainingJobs", "{}");
        Assert.Equal(200, status);
    }

    private static string Mutate(string json, int index, JsonNode? value, bool drop)
    {
        var root = JsonNode.Parse(json)!;
        var all = new List<(JsonNode Parent, object Key)>();
        Collect(root, all);
        var (parent, key) = all[index % all.Count];
        switch (parent, key)
        {
            case (JsonObject o, string k) when drop:
                o.Remove(k);
                break;
            case (JsonObject o, string k):
                o[k] = value?.DeepClone();
                break;
            case (JsonArray a, int i):
                a[i] = value?.DeepClone();
                break;
        }

        return root.ToJsonString();
    }

    private static void Collect(JsonNode node, List<(JsonNode, object)> into)
    {
        if (node is JsonObject o)
        {
            foreach (var (k, v) in o)
            {
                into.Add((o, k));
                if (v is not null)
                {
                    Collect(v, into);
                }
            }
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
            {
                into.Add((a, i));
                if (a[i] is { } v)
                {
                    Collect(v, into);
                }
            }
        }
    }

    /// <summary>An unexpected error answers 500 InternalFailure naming the request id, never the exception's text (paths, internals).</summary>
    [Fact]
    public async Task UnexpectedError_Answers500_WithoutTheExceptionsText()
    {
        await using var server = await TestServer.StartAsync();
        var name = TestJobs.UniqueName("fault");
        Trainyard.Supervision.Faults.Set("api.DescribeTrainingJob/" + name, 1);
        try
        {
            using var http = new HttpClient { BaseAddress = server.Address };
            using var content = new StringContent(new System.Text.Json.Nodes.JsonObject { ["TrainingJobName"] = name }.ToJsonString(), System.Text.Encoding.UTF8, "application/x-amz-json-1.1");
            content.Headers.Add("X-Amz-Target", "SageMaker.DescribeTrainingJob");
            using var response = await http.PostAsync("/", content);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(500, (int)response.StatusCode);
            Assert.Contains("InternalFailure", body, StringComparison.Ordinal);
            Assert.Contains(response.Headers.GetValues("x-amzn-RequestId").Single(), body, StringComparison.Ordinal);
            Assert.DoesNotContain("Fault injected", body, StringComparison.Ordinal);
            Assert.DoesNotContain(name, body, StringComparison.Ordinal);
        }
        finally
        {
            Trainyard.Supervision.Faults.Set("api.DescribeTrainingJob/" + name, 0);
        }
    }
}
