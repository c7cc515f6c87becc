using System.Text.Json.Nodes;
using Trainyard.Logs;
using Trainyard.Model;

namespace Trainyard.Cli;

/// <summary>
/// Prints a job's log streams (<c>&lt;job&gt;/algo-N-&lt;epoch&gt;</c>) and, when following, new lines as they
/// arrive — through the server's CloudWatch Logs API (DescribeLogStreams, GetLogEvents), as the SageMaker SDK
/// tails them, so it works against a server on another machine.
/// </summary>
internal static class LogTail
{
    private const string Target = "Logs_20140328.";

    public static async Task<int> RunAsync(SageMakerClient client, string job, bool follow, Func<CancellationToken, Task<bool>> ended, CancellationToken cancellationToken)
    {
        var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
        while (true)
        {
            // Ask whether it ended before reading, so the last read after the end sees every line.
            var finished = follow && await ended(cancellationToken).ConfigureAwait(false);
            var streams = await StreamsAsync(client, job, cancellationToken).ConfigureAwait(false);
            foreach (var stream in streams)
            {
                await PrintNewAsync(client, stream, streams.Count > 1, tokens, cancellationToken).ConfigureAwait(false);
            }

            if (!follow || finished)
            {
                if (streams.Count == 0)
                {
                    await Console.Error.WriteLineAsync($"No log streams for {job} in {TrainingJobLogGroup.Name}: check the name and --endpoint-url.").ConfigureAwait(false);
                    return 1;
                }

                return 0;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task PrintNewAsync(SageMakerClient client, string stream, bool prefix, Dictionary<string, string> tokens, CancellationToken cancellationToken)
    {
        while (true)
        {
            var request = new JsonObject { ["logGroupName"] = TrainingJobLogGroup.Name, ["logStreamName"] = stream, ["startFromHead"] = true };
            var token = tokens.GetValueOrDefault(stream);
            if (token is not null)
            {
                request["nextToken"] = token;
            }

            var answer = JsonNode.Parse(await client.CallAsync(Target + "GetLogEvents", request.ToJsonString(), cancellationToken).ConfigureAwait(false))!;
            var events = answer["events"]?.AsArray() ?? [];
            foreach (var e in events)
            {
                var message = e?["message"]?.GetValue<string>() ?? "";
                Console.WriteLine(prefix ? $"[{stream}] {message}" : message);
            }

            // The forward token stays the same at the end of a stream.
            if (answer["nextForwardToken"]?.GetValue<string>() is { } next)
            {
                tokens[stream] = next;
                if (events.Count == 0 || next == token)
                {
                    return;
                }
            }
            else
            {
                return;
            }
        }
    }

    private static async Task<List<string>> StreamsAsync(SageMakerClient client, string job, CancellationToken cancellationToken)
    {
        var streams = new List<string>();
        string? token = null;
        do
        {
            var request = new JsonObject { ["logGroupName"] = TrainingJobLogGroup.Name, ["logStreamNamePrefix"] = job + "/", ["orderBy"] = "LogStreamName" };
            if (token is not null)
            {
                request["nextToken"] = token;
            }

            JsonNode answer;
            try
            {
                answer = JsonNode.Parse(await client.CallAsync(Target + "DescribeLogStreams", request.ToJsonString(), cancellationToken).ConfigureAwait(false))!;
            }
            catch (ApiException e) when (e.ErrorType.EndsWith("ResourceNotFoundException", StringComparison.Ordinal))
            {
                return streams; // no job has logged yet
            }

            foreach (var s in answer["logStreams"]?.AsArray() ?? [])
            {
                if (s?["logStreamName"]?.GetValue<string>() is { } name)
                {
                    streams.Add(name);
                }
            }

            token = answer["nextToken"]?.GetValue<string>();
        }
        while (token is not null);
        return streams;
    }
}
