using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Trainyard.Jobs;
using Trainyard.Model;

namespace Trainyard.Api;

/// <summary>
/// Dispatches SageMaker operations: validates each body against the service model (every violation in
/// one <c>ValidationException</c>), deserialises it into its shape and calls the service. Nothing a
/// client sends makes it answer 500.
/// </summary>
public sealed partial class SageMakerApi(TrainingJobService jobs, Trainyard.Algorithms.AlgorithmService algorithms, ILogger<SageMakerApi> logger)
{
    private const string Prefix = "SageMaker.";

    /// <summary>Trainyard's own operation, beyond SageMaker's API: a job's whole metric series.</summary>
    public const string MetricsTarget = "Trainyard.GetTrainingJobMetrics";

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
        try
        {
            var (body, length) = await AwsJsonProtocol.ReadBodyAsync(request, context.RequestAborted).ConfigureAwait(false);
            if (!HttpMethods.IsPost(request.Method) || request.Path != "/")
            {
                await AwsJsonProtocol.WriteErrorAsync(response, "UnknownOperationException", 404,
                    $"{request.Method} {request.Path} is not an operation: SageMaker's API is POST / with an X-Amz-Target header.").ConfigureAwait(false);
                return;
            }

            if (body is null)
            {
                await AwsJsonProtocol.WriteErrorAsync(response, "SerializationException", 413,
                    $"The request body is {length} bytes; the largest accepted is {AwsJsonProtocol.MaxBodyBytes} bytes.").ConfigureAwait(false);
                return;
            }

            var target = request.Headers["X-Amz-Target"].ToString();
            if (target == MetricsTarget)
            {
                await GetMetricsAsync(body.AsMemory(0, length), response).ConfigureAwait(false);
                return;
            }

            if (!target.StartsWith(Prefix, StringComparison.Ordinal) || !ServiceModel.Instance.Operations.TryGetValue(target[Prefix.Length..], out var operation))
            {
                await AwsJsonProtocol.WriteErrorAsync(response, "UnknownOperationException", 400,
                    target.Length == 0 ? "The X-Amz-Target header is missing; it names the operation, e.g. SageMaker.DescribeTrainingJob." : $"Unknown operation '{target}'.").ConfigureAwait(false);
                return;
            }

            await DispatchAsync(operation, body.AsMemory(0, length), response, context.RequestAborted).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            await AwsJsonProtocol.WriteErrorAsync(response, e).ConfigureAwait(false);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            await AwsJsonProtocol.WriteErrorAsync(response, "SerializationException", e.StatusCode, e.Message).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client went away
        }
        catch (Exception e)
        {
            // The answer names the request, not the exception: its message may hold paths and internals.
            var requestId = response.Headers["x-amzn-RequestId"].ToString();
            LogUnhandled(logger, e, requestId);
            if (!response.HasStarted)
            {
                await AwsJsonProtocol.WriteErrorAsync(response, "InternalFailure", 500,
                    $"The request processing has failed because of an unknown error, exception or failure (request {requestId}; the server's log has the details).").ConfigureAwait(false);
            }
        }
    }

    private async Task DispatchAsync(ServiceModel.Operation operation, ReadOnlyMemory<byte> body, HttpResponse response, CancellationToken cancellationToken)
    {
        switch (operation.Name)
        {
            case "CreateTrainingJob":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.CreateTrainingJobRequest);
                var job = await jobs.CreateAsync(input, cancellationToken, response.HttpContext.Features.Get<Auth.VerifiedSignature>()?.AccessKeyId).ConfigureAwait(false);
                await AwsJsonProtocol.WriteAsync(response, new CreateTrainingJobResponse(job.Arn), TrainyardJsonContext.Default.CreateTrainingJobResponse).ConfigureAwait(false);
                break;
            }

            case "DescribeTrainingJob":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.DescribeTrainingJobRequest);
                Supervision.Faults.Maybe("api.DescribeTrainingJob/" + input.TrainingJobName);
                var job = jobs.Describe(input.TrainingJobName);
                await AwsJsonProtocol.WriteAsync(response, Describe(job), TrainyardJsonContext.Default.DescribeTrainingJobResponse).ConfigureAwait(false);
                break;
            }

            case "ListTrainingJobs":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.ListTrainingJobsRequest);
                var (page, next) = jobs.List(input);
                var summaries = page.Select(j => new TrainingJobSummary
                {
                    TrainingJobName = j.Name,
                    TrainingJobArn = j.Arn,
                    CreationTime = j.CreationTime,
                    TrainingEndTime = j.TrainingEndTime,
                    LastModifiedTime = j.LastModifiedTime,
                    TrainingJobStatus = j.Status.ToString(),
                }).ToList();
                await AwsJsonProtocol.WriteAsync(response, new ListTrainingJobsResponse(summaries, next), TrainyardJsonContext.Default.ListTrainingJobsResponse).ConfigureAwait(false);
                break;
            }

            case "StopTrainingJob":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.StopTrainingJobRequest);
                jobs.Stop(input.TrainingJobName);
                await AwsJsonProtocol.WriteAsync(response, new EmptyResponse(), TrainyardJsonContext.Default.EmptyResponse).ConfigureAwait(false);
                break;
            }

            case "AddTags":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.AddTagsInput);
                jobs.AddTags(input.ResourceArn, input.Tags);
                await AwsJsonProtocol.WriteAsync(response, new AddTagsOutput(input.Tags), TrainyardJsonContext.Default.AddTagsOutput).ConfigureAwait(false);
                break;
            }

            case "ListTags":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.ListTagsInput);
                var job = jobs.ByArn(input.ResourceArn);
                await AwsJsonProtocol.WriteAsync(response, new ListTagsOutput([.. job.Tags], null), TrainyardJsonContext.Default.ListTagsOutput).ConfigureAwait(false);
                break;
            }

            case "DeleteTags":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.DeleteTagsInput);
                jobs.DeleteTags(input.ResourceArn, input.TagKeys);
                await AwsJsonProtocol.WriteAsync(response, new EmptyResponse(), TrainyardJsonContext.Default.EmptyResponse).ConfigureAwait(false);
                break;
            }

            case "CreateAlgorithm":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.CreateAlgorithmInput);
                var record = algorithms.Create(input);
                await AwsJsonProtocol.WriteAsync(response, new CreateAlgorithmOutput(record.Arn), TrainyardJsonContext.Default.CreateAlgorithmOutput).ConfigureAwait(false);
                break;
            }

            case "DescribeAlgorithm":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.DescribeAlgorithmInput);
                await AwsJsonProtocol.WriteAsync(response, algorithms.Describe(input.AlgorithmName).Describe(), TrainyardJsonContext.Default.DescribeAlgorithmOutput).ConfigureAwait(false);
                break;
            }

            case "ListAlgorithms":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.ListAlgorithmsInput);
                var (page, next) = algorithms.List(input);
                var summaries = page.Select(a => new AlgorithmSummary
                {
                    AlgorithmName = a.Name,
                    AlgorithmArn = a.Arn,
                    AlgorithmDescription = a.Definition.AlgorithmDescription,
                    CreationTime = a.CreationTime,
                    AlgorithmStatus = a.Status.ToString(),
                }).ToList();
                await AwsJsonProtocol.WriteAsync(response, new ListAlgorithmsOutput(summaries, next), TrainyardJsonContext.Default.ListAlgorithmsOutput).ConfigureAwait(false);
                break;
            }

            case "DeleteAlgorithm":
            {
                var input = Parse(body, operation, TrainyardJsonContext.Default.DeleteAlgorithmInput);
                algorithms.Delete(input.AlgorithmName);
                await AwsJsonProtocol.WriteAsync(response, new EmptyResponse(), TrainyardJsonContext.Default.EmptyResponse).ConfigureAwait(false);
                break;
            }

            default:
                throw new ApiException("UnknownOperationException", 400, $"The operation {operation.Name} is not served by Trainyard yet.");
        }
    }

    private async Task GetMetricsAsync(ReadOnlyMemory<byte> body, HttpResponse response)
    {
        GetTrainingJobMetricsInput? input;
        try
        {
            input = JsonSerializer.Deserialize(body.Span, TrainyardJsonContext.Default.GetTrainingJobMetricsInput);
        }
        catch (JsonException e)
        {
            throw new ApiException("SerializationException", 400, $"The request body is not a GetTrainingJobMetrics request: {e.Message}");
        }

        if (input?.TrainingJobName is not { Length: > 0 } name)
        {
            throw new ApiValidationException("Value null at 'trainingJobName' failed to satisfy constraint: Member must not be null");
        }

        var job = jobs.Describe(name);
        var points = CloudWatch.TrainingJobMetrics.Read(jobs.Options.JobDirectory(job.Name));
        await AwsJsonProtocol.WriteAsync(response, new GetTrainingJobMetricsOutput(job.Name, points), TrainyardJsonContext.Default.GetTrainingJobMetricsOutput).ConfigureAwait(false);
    }

    /// <summary>Checks the body against the operation's input shape, then reads it as <typeparamref name="T"/>.</summary>
    private static T Parse<T>(ReadOnlyMemory<byte> body, ServiceModel.Operation operation, JsonTypeInfo<T> type) =>
        AwsJsonProtocol.Parse(body, operation, type, maxDepth: 64, message => new ApiValidationException(message));

    public static DescribeTrainingJobResponse Describe(JobRecord job)
    {
        var d = job.Definition;
        int? seconds = job.TrainingStartTime is { } start && job.TrainingEndTime is { } end
            ? Math.Max(1, (int)Math.Ceiling((end - start).TotalSeconds))
            : null;
        return new DescribeTrainingJobResponse
        {
            TrainingJobName = job.Name,
            TrainingJobArn = job.Arn,
            ModelArtifacts = new ModelArtifacts(job.ModelArtifacts ?? JobRunner.ModelArtifactsUri(d)),
            TrainingJobStatus = job.Status.ToString(),
            SecondaryStatus = job.SecondaryStatus.ToString(),
            FailureReason = job.FailureReason,
            HyperParameters = d.HyperParameters,
            AlgorithmSpecification = d.AlgorithmSpecification with { EnableSageMakerMetricsTimeSeries = d.AlgorithmSpecification.EnableSageMakerMetricsTimeSeries ?? false },
            RoleArn = d.RoleArn,
            InputDataConfig = d.InputDataConfig?.Select(DescribedChannel).ToList(),
            OutputDataConfig = d.OutputDataConfig with
            {
                KmsKeyId = d.OutputDataConfig.KmsKeyId ?? "",
                CompressionType = d.OutputDataConfig.CompressionType ?? "GZIP",
            },
            ResourceConfig = d.ResourceConfig,
            VpcConfig = d.VpcConfig,
            StoppingCondition = d.StoppingCondition.MaxRuntimeInSeconds is null ? d.StoppingCondition with { MaxRuntimeInSeconds = 86400 } : d.StoppingCondition,
            CreationTime = job.CreationTime,
            TrainingStartTime = job.TrainingStartTime,
            TrainingEndTime = job.TrainingEndTime,
            LastModifiedTime = job.LastModifiedTime,
            SecondaryStatusTransitions = [.. job.Transitions.Select(t => new SecondaryStatusTransition { Status = t.Status.ToString(), StartTime = t.StartTime, EndTime = t.EndTime, StatusMessage = t.StatusMessage })],
            FinalMetricDataList = job.FinalMetrics.IsEmpty ? null : [.. job.FinalMetrics],
            EnableNetworkIsolation = d.EnableNetworkIsolation ?? false,
            EnableInterContainerTrafficEncryption = d.EnableInterContainerTrafficEncryption ?? false,
            EnableManagedSpotTraining = d.EnableManagedSpotTraining ?? false,
            CheckpointConfig = d.CheckpointConfig,
            TrainingTimeInSeconds = seconds,
            BillableTimeInSeconds = seconds,
            DebugHookConfig = d.DebugHookConfig,
            ExperimentConfig = d.ExperimentConfig,
            DebugRuleConfigurations = d.DebugRuleConfigurations,
            TensorBoardOutputConfig = d.TensorBoardOutputConfig,
            DebugRuleEvaluationStatuses = d.DebugRuleConfigurations is { ValueKind: JsonValueKind.Array } ? [] : null,
            ProfilerConfig = d.ProfilerConfig,
            ProfilerRuleConfigurations = d.ProfilerRuleConfigurations,
            ProfilerRuleEvaluationStatuses = d.ProfilerRuleConfigurations is { ValueKind: JsonValueKind.Array } ? [] : null,
            ProfilingStatus = ProfilingStatus(d.ProfilerConfig),
            RetryStrategy = d.RetryStrategy,
            Environment = d.Environment,
            InfraCheckConfig = d.InfraCheckConfig,
            RemoteDebugConfig = d.RemoteDebugConfig,
        };
    }

    /// <summary>
    /// A channel as SageMaker describes it: the defaults it applied are spelled out
    /// (<c>FullyReplicated</c>, <c>CompressionType</c> and <c>RecordWrapperType</c> <c>None</c>).
    /// </summary>
    private static Channel DescribedChannel(Channel channel) => channel with
    {
        CompressionType = channel.CompressionType ?? "None",
        RecordWrapperType = channel.RecordWrapperType ?? "None",
        DataSource = channel.DataSource.S3DataSource is { } s3
            ? channel.DataSource with { S3DataSource = s3 with { S3DataDistributionType = s3.S3DataDistributionType ?? "FullyReplicated" } }
            : channel.DataSource,
    };

    /// <summary>
    /// <c>Enabled</c> for a ProfilerConfig that does not disable the profiler, <c>Disabled</c> for one that
    /// does; absent without one. Trainyard collects no profiles: the rule-evaluation lists stay empty.
    /// </summary>
    private static string? ProfilingStatus(JsonElement? config) => config is { ValueKind: JsonValueKind.Object } c
        ? c.TryGetProperty("DisableProfiler", out var disabled) && disabled.ValueKind == JsonValueKind.True ? "Disabled" : "Enabled"
        : null;

    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "Unhandled error while serving request {RequestId}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string requestId);
}
