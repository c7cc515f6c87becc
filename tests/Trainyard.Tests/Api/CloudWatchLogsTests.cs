using System.Diagnostics;
using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>CloudWatch Logs' read side on the server's port, driven by boto3 (the SDK's own calls), the AWS CLI and raw HTTP.</summary>
public sealed class CloudWatchLogsTests
{
    private const string Group = "/aws/sagemaker/TrainingJobs";

    /// <summary>Prints <c>first</c> lines at once, waits (a pause, or until the test creates <c>go</c> in the config directory), then the rest.</summary>
    private static string Printer(int first, int total, double pause = 1.5, bool waitForGo = false) => $$"""
        #!/usr/bin/python3
        import os, sys, time
        host = os.environ["SM_CURRENT_HOST"]
        for i in range({{first}}):
            print(f"{host} line {i}")
        sys.stdout.flush()
        if {{(waitForGo ? "True" : "False")}}:
            while not os.path.exists(os.path.join(os.environ["SM_INPUT_CONFIG_DIR"], "go")):
                time.sleep(0.05)
        else:
            time.sleep({{pause.ToString(System.Globalization.CultureInfo.InvariantCulture)}})
        for i in range({{first}}, {{total}}):
            print(f"{host} line {i}" + (" ERROR" if i % 100 == 7 else ""))
        sys.stdout.flush()
        """;

    private static Task<(int Status, JsonNode? Body)> Logs(TestServer server, string operation, JsonObject body) =>
        server.CallAsync(operation, body.ToJsonString(), "Logs_20140328." + operation);

    private static async Task<string> StartJobAsync(TestServer server, TempDirectory dir, string script, int instances = 1)
    {
        var image = TestJobs.Algorithm(dir, script);
        var name = TestJobs.UniqueName("logs");
        await server.CreateAsync(TestJobs.Request(name, image, instances: instances));
        return name;
    }

    /// <summary>
    /// The SageMaker Python SDK's log tail, as sagemaker.session._flush_log_streams and sagemaker.logs run it:
    /// DescribeLogStreams once per round, then per stream GetLogEvents from the last millisecond seen with
    /// startFromHead, paging until an empty page and skipping the events already seen at that millisecond.
    /// Rounds repeat while the job runs (the hosts write their second half only after the first round has
    /// read the first); every line must arrive exactly once and in order.
    /// </summary>
    [Fact]
    public async Task SdkLogTail_WhileTwoHostsWrite_EveryLineExactlyOnceInOrder()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, Printer(12_000, 24_000, waitForGo: true), instances: 2);
        var go = string.Join(",", new[] { "algo-1", "algo-2" }.Select(h => Path.Combine(server.Options.JobDirectory(name), "hosts", h, "input", "config", "go")));

        const string script = """
            import boto3, collections, json, os, sys, time
            Position = collections.namedtuple("Position", ["timestamp", "skip"])
            job, count, go = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
            endpoint = os.environ["ENDPOINT"]
            sm = boto3.client("sagemaker", endpoint_url=endpoint)
            client = boto3.client("logs", endpoint_url=endpoint)
            group = "/aws/sagemaker/TrainingJobs"

            def log_stream(client, log_group, stream_name, start_time=0, skip=0):
                next_token = None
                event_count = 1
                while event_count > 0:
                    token_arg = {"nextToken": next_token} if next_token is not None else {}
                    response = client.get_log_events(logGroupName=log_group, logStreamName=stream_name,
                        startTime=start_time, startFromHead=True, **token_arg)
                    next_token = response["nextForwardToken"]
                    events = response["events"]
                    event_count = len(events)
                    if event_count > skip:
                        events = events[skip:]
                        skip = 0
                    else:
                        skip = skip - event_count
                        events = []
                    for ev in events:
                        yield ev

            def multi_stream_iter(client, log_group, streams, positions):
                iters = [log_stream(client, log_group, s, positions[s].timestamp, positions[s].skip) for s in streams]
                events = [next(s, None) for s in iters]
                while any(events):
                    i = min(range(len(events)), key=lambda k: events[k]["timestamp"] if events[k] else 9999999999999)
                    yield (i, events[i])
                    events[i] = next(iters[i], None)

            positions, seen, rounds, tokens, released = {}, collections.defaultdict(list), 0, 0, False

            def one_round():
                global tokens
                streams = client.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/",
                    orderBy="LogStreamName", limit=min(count, 50))
                tokens += "nextToken" in streams
                names = [s["logStreamName"] for s in streams["logStreams"]]
                for s in names:
                    positions.setdefault(s, Position(timestamp=0, skip=0))
                for idx, event in multi_stream_iter(client, group, names, positions):
                    seen[names[idx]].append(event["message"])
                    ts, skip = positions[names[idx]]
                    if event["timestamp"] == ts:
                        positions[names[idx]] = Position(timestamp=ts, skip=skip + 1)
                    else:
                        positions[names[idx]] = Position(timestamp=event["timestamp"], skip=1)

            while True:
                done = sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] != "InProgress"
                one_round()
                rounds += 1
                written = sum(1 for lines in seen.values() for l in lines if " line " in l)
                if not released and written >= 2 * 12000:
                    # Both hosts wrote their first half and we read it: let them write the rest while we tail.
                    for path in go:
                        open(path, "w").close()
                    released = True
                if done:
                    break
                time.sleep(0.3)
            print(json.dumps({"rounds": rounds, "tokens": tokens, "streams": sorted(seen), "lines": seen}))
            """;
        var result = await Boto3.JsonAsync(server.Address, script, name, "2", go);
        Assert.Equal(0, result["tokens"]!.GetValue<int>());
        Assert.True(result["rounds"]!.GetValue<int>() >= 2, "the tail should have polled while the job ran");
        var streams = result["streams"]!.AsArray().Select(s => s!.GetValue<string>()).ToList();
        Assert.Equal(2, streams.Count);
        Assert.All(streams, s => Assert.Matches($"^{name}/algo-[12]-[0-9]+$", s));
        foreach (var stream in streams)
        {
            var host = stream.Contains("algo-1", StringComparison.Ordinal) ? "algo-1" : "algo-2";
            var lines = result["lines"]![stream]!.AsArray().Select(l => l!.GetValue<string>()).Where(l => !l.StartsWith("[trainyard]", StringComparison.Ordinal)).ToList();
            var expected = Enumerable.Range(0, 24_000).Select(i => $"{host} line {i}" + (i >= 12_000 && i % 100 == 7 ? " ERROR" : "")).ToList();
            Assert.Equal(expected.Count, lines.Count);
            Assert.Equal(expected, lines);
        }
    }

    [Fact]
    public async Task GetLogEvents_Paging_TokensAsCloudWatchGivesThem()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, Printer(50, 100, pause: 0));
        await server.WaitForEndAsync(name);
        var stream = (await Logs(server, "DescribeLogStreams", new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name + "/" })).Body!["logStreams"]![0]!;
        var streamName = stream["logStreamName"]!.GetValue<string>();
        Assert.True(stream["lastEventTimestamp"]!.GetValue<long>() >= stream["firstEventTimestamp"]!.GetValue<long>());
        Assert.Equal($"arn:aws:logs:us-east-1:000000000000:log-group:{Group}:log-stream:{streamName}", stream["arn"]!.GetValue<string>());

        // From the head, 30 at a time, until the token comes back unchanged.
        var lines = new List<string>();
        string? token = null;
        for (var page = 0; page < 20; page++)
        {
            var body = new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = streamName, ["startFromHead"] = true, ["limit"] = 30 };
            if (token is not null)
            {
                body["nextToken"] = token;
            }

            var (status, answer) = await Logs(server, "GetLogEvents", body);
            Assert.Equal(200, status);
            var events = answer!["events"]!.AsArray();
            lines.AddRange(events.Select(e => e!["message"]!.GetValue<string>()));
            Assert.All(events, e => Assert.True(e!["ingestionTime"]!.GetValue<long>() >= e["timestamp"]!.GetValue<long>()));
            var next = answer["nextForwardToken"]!.GetValue<string>();
            Assert.NotNull(answer["nextBackwardToken"]);
            if (next == token)
            {
                Assert.Empty(events);
                break;
            }

            token = next;
        }

        var algorithm = lines.Where(l => l.StartsWith("algo-1 line", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"algo-1 line {i}" + (i >= 50 && i % 100 == 7 ? " ERROR" : "")), algorithm);

        // Without startFromHead: the last events; the backward token pages towards the head.
        var (_, tail) = await Logs(server, "GetLogEvents", new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = streamName, ["limit"] = 5 });
        Assert.Equal(lines[^5..], tail!["events"]!.AsArray().Select(e => e!["message"]!.GetValue<string>()));
        var (_, before) = await Logs(server, "GetLogEvents", new JsonObject
        {
            ["logGroupName"] = Group, ["logStreamName"] = streamName, ["limit"] = 5, ["nextToken"] = tail["nextBackwardToken"]!.GetValue<string>(),
        });
        Assert.Equal(lines[^10..^5], before!["events"]!.AsArray().Select(e => e!["message"]!.GetValue<string>()));

        // A time window: startTime inclusive, endTime exclusive.
        var (_, all) = await Logs(server, "GetLogEvents", new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = streamName, ["startFromHead"] = true });
        var times = all!["events"]!.AsArray().Select(e => e!["timestamp"]!.GetValue<long>()).ToList();
        var pivot = times[times.Count / 2];
        var (_, window) = await Logs(server, "GetLogEvents", new JsonObject
        {
            ["logGroupName"] = Group, ["logStreamName"] = streamName, ["startFromHead"] = true, ["startTime"] = pivot, ["endTime"] = times[^1],
        });
        Assert.Equal(times.Count(t => t >= pivot && t < times[^1]), window!["events"]!.AsArray().Count);
    }

    [Fact]
    public async Task DescribeLogStreams_Pages_NextTokenOnlyWhenMoreStreamsExist()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, "#!/bin/sh\necho hi\n", instances: 3);
        await server.WaitForEndAsync(name);

        var (_, all) = await Logs(server, "DescribeLogStreams", new JsonObject
        {
            ["logGroupName"] = Group, ["logStreamNamePrefix"] = name + "/", ["orderBy"] = "LogStreamName", ["limit"] = 3,
        });
        Assert.Equal(3, all!["logStreams"]!.AsArray().Count);
        Assert.Null(all["nextToken"]);

        var (_, first) = await Logs(server, "DescribeLogStreams", new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name + "/", ["limit"] = 2 });
        Assert.Equal(2, first!["logStreams"]!.AsArray().Count);
        var (_, rest) = await Logs(server, "DescribeLogStreams", new JsonObject
        {
            ["logGroupName"] = Group, ["logStreamNamePrefix"] = name + "/", ["limit"] = 2, ["nextToken"] = first["nextToken"]!.GetValue<string>(),
        });
        Assert.Single(rest!["logStreams"]!.AsArray());
        Assert.Null(rest["nextToken"]);
        Assert.Contains("/algo-3-", rest["logStreams"]![0]!["logStreamName"]!.GetValue<string>(), StringComparison.Ordinal);

        var (_, descending) = await Logs(server, "DescribeLogStreams", new JsonObject { ["logGroupName"] = Group, ["orderBy"] = "LastEventTime", ["descending"] = true });
        Assert.Equal(3, descending!["logStreams"]!.AsArray().Count);

        var (_, groups) = await Logs(server, "DescribeLogGroups", new JsonObject { ["logGroupNamePrefix"] = "/aws/sagemaker/" });
        Assert.Equal(Group, groups!["logGroups"]![0]!["logGroupName"]!.GetValue<string>());
        var (_, none) = await Logs(server, "DescribeLogGroups", new JsonObject { ["logGroupNamePrefix"] = "/aws/lambda/" });
        Assert.Empty(none!["logGroups"]!.AsArray());
    }

    [Fact]
    public async Task FilterLogEvents_TwoHosts_InterleavedByTimeWithStableIdsAndTermPatterns()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, Printer(150, 300, pause: 0.2), instances: 2);
        await server.WaitForEndAsync(name);

        async Task<List<JsonNode>> AllAsync(JsonObject request)
        {
            var events = new List<JsonNode>();
            for (var page = 0; page < 100; page++)
            {
                var (status, body) = await Logs(server, "FilterLogEvents", (JsonObject)request.DeepClone());
                Assert.True(status == 200, body?.ToJsonString());
                events.AddRange(body!["events"]!.AsArray().Select(e => e!));
                if (body["nextToken"] is not { } token)
                {
                    return events;
                }

                request["nextToken"] = token.GetValue<string>();
            }

            throw new InvalidOperationException("FilterLogEvents kept answering nextToken");
        }

        var all = await AllAsync(new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name, ["limit"] = 77 });
        Assert.Equal(2, all.Select(e => e["logStreamName"]!.GetValue<string>()).Distinct().Count());
        Assert.Equal(600, all.Count(e => e["message"]!.GetValue<string>().Contains(" line ", StringComparison.Ordinal)));
        var times = all.Select(e => e["timestamp"]!.GetValue<long>()).ToList();
        Assert.Equal(times.Order(), times);
        var ids = all.Select(e => e["eventId"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());

        // The same events asked again carry the same ids (aws logs tail --follow de-duplicates by them).
        var again = await AllAsync(new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name, ["limit"] = 10000 });
        Assert.Equal(ids, again.Select(e => e["eventId"]!.GetValue<string>()));

        var errors = await AllAsync(new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name, ["filterPattern"] = "ERROR" });
        Assert.Equal(["algo-1 line 207 ERROR", "algo-2 line 207 ERROR"], errors.Select(e => e["message"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var either = await AllAsync(new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name, ["filterPattern"] = "?\"line 3\" ?\"line 4\"" });
        Assert.Equal(2 * 22, either.Count); // 3, 4, 30-49 on each host
        Assert.All(either, e => Assert.Matches("line [34]", e["message"]!.GetValue<string>()));
        var excluded = await AllAsync(new JsonObject { ["logGroupName"] = Group, ["logStreamNames"] = new JsonArray(all[0]["logStreamName"]!.GetValue<string>()), ["filterPattern"] = "line -ERROR" });
        Assert.Equal(300 - 1, excluded.Count);
    }

    [Fact]
    public async Task BadInput_GetsCloudWatchsErrors()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, "#!/bin/sh\necho one\necho two\n", instances: 2);
        await server.WaitForEndAsync(name);
        var streams = (await Logs(server, "DescribeLogStreams", new JsonObject { ["logGroupName"] = Group, ["logStreamNamePrefix"] = name + "/" })).Body!["logStreams"]!.AsArray()
            .Select(s => s!["logStreamName"]!.GetValue<string>()).ToList();
        var (_, page) = await Logs(server, "GetLogEvents", new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = streams[0], ["startFromHead"] = true });
        var token = page!["nextForwardToken"]!.GetValue<string>();

        async Task ExpectAsync(string operation, JsonObject body, string type, string message)
        {
            var (status, answer) = await Logs(server, operation, body);
            Assert.True(status == 400, $"{operation} {body.ToJsonString()} answered {status}: {answer?.ToJsonString()}");
            Assert.Equal(type, answer!["__type"]!.GetValue<string>());
            Assert.Contains(message, answer["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group, ["logStreamName"] = name + "/algo-9-1" }, "ResourceNotFoundException", "The specified log stream does not exist.");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group, ["logStreamName"] = "../../etc/passwd" }, "ResourceNotFoundException", "log stream does not exist");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = "/aws/lambda/x", ["logStreamName"] = streams[0] }, "ResourceNotFoundException", "The specified log group does not exist.");
        await ExpectAsync("DescribeLogStreams", new() { ["logGroupName"] = "/aws/sagemaker/Endpoints" }, "ResourceNotFoundException", "log group does not exist");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group, ["logStreamName"] = streams[0], ["nextToken"] = "garbage" }, "InvalidParameterException", "nextToken is invalid");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group, ["logStreamName"] = streams[1], ["nextToken"] = token }, "InvalidParameterException", "nextToken is invalid");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group, ["logStreamName"] = streams[0], ["nextToken"] = token.Replace(token.Split('/')[1], "00000000000000099999", StringComparison.Ordinal) }, "InvalidParameterException", "nextToken is invalid");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group, ["logStreamName"] = streams[0], ["limit"] = 20000 }, "InvalidParameterException",
            "Value '20000' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000");
        await ExpectAsync("GetLogEvents", new() { ["logGroupName"] = Group }, "InvalidParameterException", "Value null at 'logStreamName' failed to satisfy constraint: Member must not be null");
        await ExpectAsync("DescribeLogStreams", new() { ["logGroupName"] = Group, ["limit"] = 51 }, "InvalidParameterException", "less than or equal to 50");
        await ExpectAsync("DescribeLogStreams", new() { ["logGroupName"] = Group, ["orderBy"] = "Size" }, "InvalidParameterException", "enum value set: [LogStreamName, LastEventTime]");
        await ExpectAsync("DescribeLogStreams", new() { ["logGroupName"] = Group, ["orderBy"] = "LastEventTime", ["logStreamNamePrefix"] = name }, "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.");
        await ExpectAsync("DescribeLogStreams", new() { ["logGroupName"] = Group, ["nextToken"] = "!!" }, "InvalidParameterException", "nextToken is invalid");
        await ExpectAsync("FilterLogEvents", new() { ["logGroupName"] = Group, ["filterPattern"] = "{ $.level = \"ERROR\" }" }, "InvalidParameterException", "term patterns only");
        await ExpectAsync("FilterLogEvents", new() { ["logGroupName"] = Group, ["logStreamNames"] = new JsonArray(streams[0]), ["logStreamNamePrefix"] = name }, "InvalidParameterException", "mutually exclusive");
        await ExpectAsync("FilterLogEvents", new() { ["logGroupName"] = Group, ["logStreamNames"] = new JsonArray(name + "/algo-7-1") }, "ResourceNotFoundException", "log stream does not exist");
        await ExpectAsync("FilterLogEvents", new() { ["logGroupName"] = Group, ["nextToken"] = "e30" }, "InvalidParameterException", "nextToken is invalid");

        var (status, wrongType) = await Logs(server, "GetLogEvents", new JsonObject { ["logGroupName"] = Group, ["logStreamName"] = streams[0], ["startTime"] = "yesterday" });
        Assert.Equal(400, status);
        Assert.Equal("SerializationException", wrongType!["__type"]!.GetValue<string>());
        var (unknownStatus, unknown) = await server.CallAsync("", "{}", "Logs_20140328.PutLogEvents");
        Assert.Equal(400, unknownStatus);
        Assert.Equal("UnknownOperationException", unknown!["__type"]!.GetValue<string>());
    }

    [Fact]
    public async Task AwsCli_GetLogEventsAndTailFollow_SeeEveryLine()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, Printer(20, 40, pause: 4));
        await Poll.UntilAsync(() => server.LogOf(name).Contains("algo-1 line 19", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the first lines");

        // Started while the job runs: it must show the lines written later too, each once.
        var psi = new ProcessStartInfo(AwsCli.Path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "logs", "tail", Group, "--follow", "--log-stream-name-prefix", name, "--format", "short", "--endpoint-url", server.Address.ToString().TrimEnd('/') })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDTRAINYARDTEST";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "secret";
        psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        psi.Environment.Remove("AWS_CA_BUNDLE");
        using var tail = Process.Start(psi)!;
        var output = new List<string>();
        tail.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.Add(e.Data);
                }
            }
        };
        tail.BeginOutputReadLine();
        try
        {
            await Poll.UntilAsync(() => { lock (output) { return output.Any(l => l.EndsWith("algo-1 line 39", StringComparison.Ordinal)); } },
                TimeSpan.FromSeconds(60), "aws logs tail --follow to show the last line");
            // One more poll round (the CLI polls every 5 s) must not repeat anything.
            await Task.Delay(TimeSpan.FromSeconds(6));
        }
        finally
        {
            tail.Kill(entireProcessTree: true);
            await tail.WaitForExitAsync();
        }

        List<string> lines;
        lock (output)
        {
            lines = output.Where(l => l.Contains("algo-1 line", StringComparison.Ordinal)).Select(l => l[(l.IndexOf("algo-1 line", StringComparison.Ordinal))..]).ToList();
        }

        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"algo-1 line {i}"), lines);

        await server.WaitForEndAsync(name);
        var streams = await AwsCli.JsonAsync(server.Address, "logs", "describe-log-streams", "--log-group-name", Group, "--log-stream-name-prefix", name + "/");
        var stream = streams["logStreams"]![0]!["logStreamName"]!.GetValue<string>();
        var events = await AwsCli.JsonAsync(server.Address, "logs", "get-log-events", "--log-group-name", Group, "--log-stream-name", stream, "--start-from-head");
        Assert.Contains(events["events"]!.AsArray(), e => e!["message"]!.GetValue<string>() == "algo-1 line 39");
        var groups = await AwsCli.JsonAsync(server.Address, "logs", "describe-log-groups");
        Assert.Equal(Group, groups["logGroups"]![0]!["logGroupName"]!.GetValue<string>());
        var filtered = await AwsCli.JsonAsync(server.Address, "logs", "filter-log-events", "--log-group-name", Group, "--log-stream-name-prefix", name, "--filter-pattern", "\"line 3\"");
        Assert.Equal(11, filtered["events"]!.AsArray().Count); // line 3, 30..39
    }

    [Fact]
    public async Task JavaScriptSdk_DescribeGetFilter_ReadsTheJobsLogs()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var name = await StartJobAsync(server, dir, Printer(30, 60, pause: 0), instances: 2);
        await server.WaitForEndAsync(name);

        const string script = """
            const { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand, FilterLogEventsCommand,
                    paginateFilterLogEvents, ResourceNotFoundException } = require("@aws-sdk/client-cloudwatch-logs");
            (async () => {
              const job = process.argv[process.argv.length - 1];
              const client = new CloudWatchLogsClient({ endpoint: process.env.ENDPOINT, region: "us-east-1" });
              const group = "/aws/sagemaker/TrainingJobs";
              const streams = await client.send(new DescribeLogStreamsCommand({ logGroupName: group, logStreamNamePrefix: job + "/", orderBy: "LogStreamName" }));
              const lines = {};
              for (const s of streams.logStreams) {
                lines[s.logStreamName] = [];
                let token;
                for (;;) {
                  const page = await client.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: s.logStreamName, startFromHead: true, limit: 7, nextToken: token }));
                  for (const e of page.events) lines[s.logStreamName].push(e.message);
                  if (page.nextForwardToken === token) break;
                  token = page.nextForwardToken;
                }
              }
              let filtered = 0;
              for await (const page of paginateFilterLogEvents({ client, pageSize: 5 }, { logGroupName: group, logStreamNamePrefix: job, filterPattern: "line" })) filtered += page.events.length;
              let missing = "";
              try { await client.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: job + "/algo-9-1" })); }
              catch (e) { missing = e.name + (e instanceof ResourceNotFoundException ? " (typed)" : ""); }
              console.log(JSON.stringify({ streams: streams.logStreams.map(s => s.logStreamName), next: streams.nextToken ?? null, lines, filtered, missing }));
            })().catch(e => { console.error(e); process.exit(1); });
            """;
        var result = await AwsSdkJs.JsonAsync(server.Address, script, name);
        Assert.Equal(2, result["streams"]!.AsArray().Count);
        Assert.Null(result["next"]);
        foreach (var (stream, lines) in result["lines"]!.AsObject())
        {
            var host = stream.Contains("/algo-1-", StringComparison.Ordinal) ? "algo-1" : "algo-2";
            Assert.Equal(Enumerable.Range(0, 60).Select(i => $"{host} line {i}"), lines!.AsArray().Select(l => l!.GetValue<string>()).Where(l => !l.StartsWith("[trainyard]", StringComparison.Ordinal)));
        }

        Assert.Equal(120, result["filtered"]!.GetValue<int>());
        Assert.Equal("ResourceNotFoundException (typed)", result["missing"]!.GetValue<string>());
    }
}
