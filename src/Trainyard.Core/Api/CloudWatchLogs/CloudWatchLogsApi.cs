using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Trainyard.Logs;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatchLogs;

/// <summary>
/// CloudWatch Logs' read side (AWS JSON 1.1, <c>X-Amz-Target: Logs_20140328.&lt;Operation&gt;</c>) over the
/// training jobs' log streams: DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents.
/// Requests are checked against CloudWatch Logs' service model; errors are CloudWatch's
/// (<c>ResourceNotFoundException</c>, <c>InvalidParameterException</c>).
/// </summary>
public sealed partial class CloudWatchLogsApi(TrainyardOptions options)
{
    public const string TargetPrefix = "Logs_20140328.";

    /// <summary>CloudWatch's limits: 10,000 events or 1 MB a page; 50 streams or groups a page.</summary>
    private const int MaxEvents = 10_000;
    private const int MaxPageBytes = 1_048_576;
    private const int MaxMessageBytes = 256 * 1024;

    private static readonly Lazy<ServiceModel> Model = new(() => ServiceModel.Load("logs-api.json"));

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    private readonly TrainingJobLogGroup _group = new(Path.Combine(options.Home, "jobs"));

    private string GroupArn => $"arn:aws:logs:{options.Region}:{options.AccountId}:log-group:{TrainingJobLogGroup.Name}";

    public async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        try
        {
            var (body, length) = await AwsJsonProtocol.ReadBodyAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
            if (body is null)
            {
                throw new ApiException("SerializationException", 413, $"The request body is {length} bytes; the largest accepted is {AwsJsonProtocol.MaxBodyBytes} bytes.");
            }

            var target = context.Request.Headers["X-Amz-Target"].ToString();
            var name = target.StartsWith(TargetPrefix, StringComparison.Ordinal) ? target[TargetPrefix.Length..] : "";
            if (!Model.Value.Operations.TryGetValue(name, out var operation))
            {
                throw new ApiException("UnknownOperationException", 400,
                    $"Unknown operation '{target}'. Trainyard serves CloudWatch Logs' DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents.");
            }

            var input = body.AsMemory(0, length);
            switch (operation.Name)
            {
                case "DescribeLogGroups":
                    await AwsJsonProtocol.WriteAsync(response, DescribeLogGroups(Parse(input, operation, LogsJsonContext.Default.DescribeLogGroupsRequest)), LogsJsonContext.Default.DescribeLogGroupsResponse).ConfigureAwait(false);
                    break;
                case "DescribeLogStreams":
                    await AwsJsonProtocol.WriteAsync(response, DescribeLogStreams(Parse(input, operation, LogsJsonContext.Default.DescribeLogStreamsRequest)), LogsJsonContext.Default.DescribeLogStreamsResponse).ConfigureAwait(false);
                    break;
                case "GetLogEvents":
                    await GetLogEventsAsync(Parse(input, operation, LogsJsonContext.Default.GetLogEventsRequest), response, context.RequestAborted).ConfigureAwait(false);
                    break;
                case "FilterLogEvents":
                    await FilterLogEventsAsync(Parse(input, operation, LogsJsonContext.Default.FilterLogEventsRequest), response, context.RequestAborted).ConfigureAwait(false);
                    break;
            }
        }
        catch (ApiException e) when (!response.HasStarted)
        {
            await AwsJsonProtocol.WriteErrorAsync(response, e).ConfigureAwait(false);
        }
        catch (InvalidDataException) when (!response.HasStarted)
        {
            // A damaged log index: said without its path (the server's own files are not the client's business).
            await AwsJsonProtocol.WriteErrorAsync(response, "ServiceUnavailableException", 500, "The log stream's stored index is damaged and cannot be read.").ConfigureAwait(false);
        }
    }

    private DescribeLogGroupsResponse DescribeLogGroups(DescribeLogGroupsRequest request)
    {
        if (request.NextToken is not null)
        {
            // Only one group exists, and it is never followed by a token.
            throw new ApiException("InvalidParameterException", 400, "The specified nextToken is invalid.");
        }

        var matches = (request.LogGroupNamePrefix is null || TrainingJobLogGroup.Name.StartsWith(request.LogGroupNamePrefix, StringComparison.Ordinal))
            && (request.LogGroupNamePattern is null || TrainingJobLogGroup.Name.Contains(request.LogGroupNamePattern, StringComparison.OrdinalIgnoreCase));
        if (!matches)
        {
            return new DescribeLogGroupsResponse([], null);
        }

        var jobs = _group.JobsDirectory;
        var created = Directory.Exists(jobs) ? new DateTimeOffset(Directory.GetCreationTimeUtc(jobs)).ToUnixTimeMilliseconds() : DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return new DescribeLogGroupsResponse(
            [new LogGroupDescription { LogGroupName = TrainingJobLogGroup.Name, CreationTime = created, Arn = GroupArn + ":*", StoredBytes = _group.StoredBytes() }], null);
    }

    private DescribeLogStreamsResponse DescribeLogStreams(DescribeLogStreamsRequest request)
    {
        CheckGroup(request.LogGroupName, request.LogGroupIdentifier);
        var byTime = request.OrderBy == "LastEventTime";
        if (byTime && request.LogStreamNamePrefix is not null)
        {
            throw new ApiException("InvalidParameterException", 400, "Cannot order by LastEventTime with a logStreamNamePrefix.");
        }

        var limit = request.Limit ?? 50;
        var descending = request.Descending == true;
        var after = request.NextToken is { } token ? LogTokens.ReadStreamsToken(token) : null;
        var names = _group.StreamNames(request.LogStreamNamePrefix);
        List<LogStreamDescription> page = [];
        string? next = null;
        if (!byTime)
        {
            if (descending)
            {
                names.Reverse();
            }

            var start = after is null ? 0 : names.FindIndex(n => descending ? string.CompareOrdinal(n, after) < 0 : string.CompareOrdinal(n, after) > 0);
            if (start < 0)
            {
                start = names.Count;
            }

            foreach (var name in names.Skip(start))
            {
                if (page.Count == limit)
                {
                    next = LogTokens.Streams(page[^1].LogStreamName);
                    break;
                }

                if (_group.Describe(name) is { } info)
                {
                    page.Add(Description(info));
                }
            }
        }
        else
        {
            // Streams without events sort as the oldest; ties by name.
            var all = names.Select(_group.Describe).OfType<LogStreamInfo>()
                .Select(i => (Key: $"{i.LastEventTimestamp ?? 0:D20}|{i.Name}", Info: i)).ToList();
            all.Sort((a, b) => descending ? string.CompareOrdinal(b.Key, a.Key) : string.CompareOrdinal(a.Key, b.Key));
            var rest = after is null ? all : all.Where(x => descending ? string.CompareOrdinal(x.Key, after) < 0 : string.CompareOrdinal(x.Key, after) > 0).ToList();
            page = [.. rest.Take(limit).Select(x => Description(x.Info))];
            if (rest.Count > limit)
            {
                next = LogTokens.Streams(rest[limit - 1].Key);
            }
        }

        return new DescribeLogStreamsResponse(page, next);
    }

    private LogStreamDescription Description(LogStreamInfo info) => new()
    {
        LogStreamName = info.Name,
        CreationTime = info.CreationTime,
        FirstEventTimestamp = info.FirstEventTimestamp,
        LastEventTimestamp = info.LastEventTimestamp,
        LastIngestionTime = info.LastIngestionTime,
        UploadSequenceToken = "1",
        Arn = $"{GroupArn}:log-stream:{info.Name}",
    };

    private static void CheckGroup(string? name, string? identifier)
    {
        if (name is not null && identifier is not null)
        {
            throw new ApiException("InvalidParameterException", 400, "LogGroupName and LogGroupIdentifier are mutually exclusive parameters.");
        }

        var group = identifier ?? name;
        if (group is null)
        {
            throw new ApiException("InvalidParameterException", 400, "Either LogGroupName or LogGroupIdentifier must be specified.");
        }

        // An identifier may be the group's ARN.
        var colon = group.IndexOf(":log-group:", StringComparison.Ordinal);
        if (group.StartsWith("arn:", StringComparison.Ordinal) && colon > 0)
        {
            group = group[(colon + ":log-group:".Length)..].TrimEnd('*').TrimEnd(':');
        }

        if (group != TrainingJobLogGroup.Name)
        {
            throw new ApiException("ResourceNotFoundException", 400, "The specified log group does not exist.");
        }
    }

    /// <summary>Checks the body against the operation's input shape, then reads it as <typeparamref name="T"/>.</summary>
    private static T Parse<T>(ReadOnlyMemory<byte> body, ServiceModel.Operation operation, JsonTypeInfo<T> type) =>
        AwsJsonProtocol.Parse(body, operation, type, maxDepth: 16, message => new ApiException("InvalidParameterException", 400, message), Model.Value);
}
