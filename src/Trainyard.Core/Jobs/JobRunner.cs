using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Trainyard.Artifacts;
using Trainyard.DataPlane;
using Trainyard.Executors;
using Trainyard.Hosts;
using Trainyard.Model;
using Trainyard.Storage;

namespace Trainyard.Jobs;

/// <summary>
/// One job's state machine: plans its hosts, starts them through the executor, follows their phases
/// into SageMaker's statuses, enforces MaxRuntimeInSeconds, and packs and uploads the artifacts — also
/// after a failure or a stop.
/// </summary>
public sealed partial class JobRunner : IHostEvents
{
    private readonly JobStore _store;
    private readonly IObjectStore _objects;
    private readonly IExecutor _executor;
    private readonly TrainyardOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<string> _downloading = [];
    private readonly HashSet<string> _training = [];
    private readonly List<(MetricDefinition Definition, Regex? Regex)> _metrics = [];
    private StreamWriter? _metricSeries;
    private DateTimeOffset _lastMetricFlush;
    private readonly Dictionary<string, MetricData> _lastMetrics = new(StringComparer.Ordinal);
    private int _hostCount;
    private bool _pulling;
    private (List<HostPlan> Plans, List<Task<HostResult>> Tasks)? _hosts;

    public JobRunner(JobRecord job, JobStore store, IObjectStore objects, IExecutor executor, TrainyardOptions options, ILogger logger)
    {
        Job = job;
        _store = store;
        _objects = objects;
        _executor = executor;
        _options = options;
        _logger = logger;
        foreach (var m in job.Definition.AlgorithmSpecification.MetricDefinitions ?? [])
        {
            _metrics.Add((m, new Regex(m.Regex, RegexOptions.CultureInvariant | RegexOptions.Compiled, TimeSpan.FromMilliseconds(50))));
        }
    }

    public JobRecord Job { get; }

    public string Name => Job.Name;

    /// <summary>Raised for every log line of every host ("algo-1", line).</summary>
    public event Action<string, string>? LogLine;

    /// <summary>Raised as File-mode downloads progress.</summary>
    public event Action<string, long, long, int, int>? Progress;

    /// <summary>Raised as a host pulls the training image.</summary>
    public event Action<string, Trainyard.Images.Cache.PullProgress>? ImageProgress;

    public string JobDirectory => _options.JobDirectory(Job.Name);

    /// <summary>Asks the hosts to stop (SIGTERM, then SIGKILL after the grace period).</summary>
    public void RequestStop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already finished
        }
    }

    public async Task RunAsync() => await GuardAsync(RunCoreAsync).ConfigureAwait(false);

    /// <summary>Follows a job placed before a server restart by an executor whose hosts outlive the server.</summary>
    public async Task ResumeAsync(IReattachingExecutor executor, string state) => await GuardAsync(async () =>
    {
        var planFile = Path.Combine(JobDirectory, "plan.json");
        var plans = JsonSerializer.Deserialize(await File.ReadAllTextAsync(planFile, CancellationToken.None).ConfigureAwait(false), HostsJsonContext.Default.ListHostPlan)!;
        _hostCount = plans.Count;
        OnLog(plans[0].HostName, $"[trainyard] The server restarted; following the job's hosts again ({executor.Name} {state}).");
        if (_store.Get(Job.Name) is { Status: TrainingJobStatus.Stopping })
        {
            RequestStop();
        }

        await FollowHostsAsync(plans, executor.Attach(plans, state, this, _stop.Token)).ConfigureAwait(false);
    }).ConfigureAwait(false);

    /// <summary>
    /// Runs <paramref name="run"/>; an unexpected error in it stops every host the job has (SIGTERM, grace
    /// period, SIGKILL), still uploads what they left, and fails the job saying what went wrong.
    /// </summary>
    private async Task GuardAsync(Func<Task> run)
    {
        try
        {
            await run().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogCrashed(_logger, e, Job.Name);
            RequestStop();
            if (_hosts is { } hosts)
            {
                await Task.WhenAll(hosts.Tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
                await UploadArtifactsAsync(hosts.Plans).ConfigureAwait(false);
            }

            Finish(JobEvent.Fail("InternalServerError: " + e.Message));
        }
    }

    private async Task RunCoreAsync()
    {
        // A Stop that came before this runner was registered is in the store.
        if (_store.Get(Job.Name) is { Status: TrainingJobStatus.Stopping })
        {
            RequestStop();
        }

        var definition = Job.Definition;
        List<HostPlan> plans;
        try
        {
            plans = await PlanAsync(definition, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DataPlaneException or ObjectStoreException)
        {
            Finish(JobEvent.Fail("ClientError: " + e.Message));
            return;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            Finish(JobEvent.Halt);
            return;
        }

        _hostCount = plans.Count;

        // From here on hosts may run: a restarted server follows them again, or says they were lost.
        _store.Update(Job.Name, j => j with { ExecutorName = _executor.Name });
        await FollowHostsAsync(plans, _executor.Start(plans, this, _stop.Token)).ConfigureAwait(false);
    }

    /// <summary>How a host ended, also when its task failed: a stop it acted on, or an error in Trainyard.</summary>
    private async Task<HostResult> OutcomeAsync(HostPlan plan, Task<HostResult> task)
    {
        try
        {
            return await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            return new HostResult { HostName = plan.HostName, Stopped = true };
        }
        catch (Exception e)
        {
            LogHostCrashed(_logger, e, Job.Name, plan.HostName);
            return new HostResult { HostName = plan.HostName, Error = $"InternalServerError: the host runtime of {plan.HostName} failed: {e.Message}" };
        }
    }

    private async Task FollowHostsAsync(List<HostPlan> plans, IReadOnlyList<Task<HostResult>> started)
    {
        var tasks = plans.Zip(started, OutcomeAsync).ToList();
        _hosts = (plans, tasks);
        var definition = Job.Definition;
        var elapsed = DateTimeOffset.UtcNow - (_store.Get(Job.Name)?.TrainingStartTime ?? DateTimeOffset.UtcNow);
        var maxRuntime = TimeSpan.FromSeconds(definition.StoppingCondition.MaxRuntimeInSeconds ?? 86400) - elapsed;
        using var runtimeTimer = new Timer(_ => OnMaxRuntime(), null, maxRuntime < TimeSpan.Zero ? TimeSpan.Zero : maxRuntime, Timeout.InfiniteTimeSpan);

        var results = new List<HostResult>();
        var pending = tasks.ToList();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            var result = await done.ConfigureAwait(false);
            results.Add(result);
            if (!result.Succeeded && !result.Stopped && pending.Count > 0)
            {
                // SageMaker ends the whole job when one host fails: the others are stopped.
                OnLog(result.HostName, $"[trainyard] {result.HostName} failed; stopping the other hosts.");
                RequestStop();
            }
        }

        await runtimeTimer.DisposeAsync().ConfigureAwait(false);
        if (results.Any(r => r.TimedOut))
        {
            // A host's own deadline ended it while no server was there to: the job ran out of time.
            _store.Apply(Job.Name, JobEvent.TimeOut);
        }

        var current = _store.Get(Job.Name)!;
        var failed = results.Where(r => !r.Succeeded && !(r.Stopped && current.StopReason is not null)).OrderBy(r => r.Stopped).ThenBy(r => r.HostName, StringComparer.Ordinal).ToList();
        string? failure = null;
        if (current.StopReason is null && failed.Count > 0)
        {
            failure = FailureReason(failed);
        }
        else if (current.StopReason is null && results.Any(r => r.Stopped))
        {
            failure = FailureReason(results.Where(r => !r.Succeeded).ToList());
        }

        if (failure is null && current.StopReason is null)
        {
            _store.Apply(Job.Name, JobEvent.Upload);
        }

        var uploadError = await UploadArtifactsAsync(plans).ConfigureAwait(false);
        CleanUp(plans);
        current = _store.Get(Job.Name)!;
        Finish(current.StopReason is not null ? JobEvent.Halt
            : failure is not null ? JobEvent.Fail(failure)
            : uploadError is not null ? JobEvent.Fail(uploadError)
            : JobEvent.Complete);
    }

    private static string FailureReason(IReadOnlyList<HostResult> failed)
    {
        var first = failed.FirstOrDefault(r => r.FailureText is not null) ?? failed.FirstOrDefault(r => r.Error is not null) ?? failed[0];
        string reason;
        if (first.FailureText is { } text)
        {
            reason = text;
        }
        else if (first.Error is { } error)
        {
            reason = error;
        }
        else if (first.Signal is { } signal)
        {
            reason = $"AlgorithmError: the algorithm on {first.HostName} was killed by {HostRuntime.SignalName(signal)}";
        }
        else if (first.ExitCode is { } code)
        {
            reason = $"AlgorithmError: the algorithm on {first.HostName} exited with code {code.ToString(CultureInfo.InvariantCulture)}; see the job's logs";
        }
        else
        {
            reason = $"AlgorithmError: {first.HostName} stopped before training";
        }

        return reason;
    }

    private async Task<List<HostPlan>> PlanAsync(CreateTrainingJobRequest definition, CancellationToken cancellationToken)
    {
        var count = definition.ResourceConfig.InstanceCount ?? 1;
        var hosts = Enumerable.Range(1, count).Select(i => $"algo-{i}").ToList();
        var slot = (int)(Job.Sequence % 60000);
        var addresses = hosts.Select((h, i) => (h, $"127.{1 + slot / 250}.{slot % 250}.{11 + i}"))
            .ToDictionary(x => x.h, x => x.Item2, StringComparer.Ordinal);
        var channels = new List<(Channel Channel, List<ChannelObject> Objects)>();
        foreach (var channel in definition.InputDataConfig ?? [])
        {
            channels.Add((channel, await ChannelResolver.ListAsync(_objects, channel, cancellationToken).ConfigureAwait(false)));
        }

        var image = Job.ImagePath;
        var epoch = Job.CreationTime.ToUnixTimeSeconds();
        var plans = new List<HostPlan>();
        for (var i = 0; i < count; i++)
        {
            var host = hosts[i];
            plans.Add(new HostPlan
            {
                JobName = Job.Name,
                JobArn = Job.Arn,
                Region = _options.Region,
                HostName = host,
                Hosts = hosts,
                HostAddresses = addresses,
                HostDirectory = Path.Combine(JobDirectory, "hosts", host),
                ImagePath = image,
                ImageCache = _options.ImageCacheDirectory,
                InsecureRegistries = _options.InsecureRegistries,
                IdRangeStart = Trainyard.Images.Runtime.IdRange.ForJob(_options.UserNamespaceBase, Job.Sequence).Start,
                ContainerEntrypoint = definition.AlgorithmSpecification.ContainerEntrypoint,
                ContainerArguments = definition.AlgorithmSpecification.ContainerArguments,
                HyperParameters = definition.HyperParameters ?? [],
                Environment = definition.Environment ?? [],
                InstanceTypeName = definition.ResourceConfig.InstanceType ?? "ml.m5.large",
                VolumeSizeBytes = (long)definition.ResourceConfig.VolumeSizeInGB << 30,
                TrainingJobConfigJson = Job.DefinitionJson,
                LogPath = Path.Combine(JobDirectory, "logs", $"{host}-{epoch}.log"),
                UseSandbox = _options.Sandbox,
                StopGracePeriod = _options.StopGracePeriod,
                FormatVersion = HostPlan.CurrentFormatVersion,
                Deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(definition.StoppingCondition.MaxRuntimeInSeconds ?? 86400) + HostDeadlineMargin,
                CheckpointS3Uri = definition.CheckpointConfig?.S3Uri,
                CheckpointLocalPath = definition.CheckpointConfig is null ? null : definition.CheckpointConfig.LocalPath ?? "/opt/ml/checkpoints",
                MaxPendingTime = definition.StoppingCondition.MaxPendingTimeInSeconds is { } pending ? TimeSpan.FromSeconds(pending) : null,
                ObjectStore = _objects.Name,
                ObjectStoreRoot = (_objects as LocalObjectStore)?.Root ?? (_objects as RoutingObjectStore)?.Files.Root,
                StoreEnvironment = _options.HostEnvironment,
                Channels = channels.Select(c => new ChannelPlan
                {
                    Name = c.Channel.ChannelName,
                    InputMode = c.Channel.InputMode ?? definition.AlgorithmSpecification.TrainingInputMode,
                    S3DataType = c.Channel.DataSource.S3DataSource!.S3DataType,
                    S3DistributionType = c.Channel.DataSource.S3DataSource.S3DataDistributionType ?? "FullyReplicated",
                    ContentType = c.Channel.ContentType,
                    CompressionType = c.Channel.CompressionType,
                    RecordWrapperType = c.Channel.RecordWrapperType ?? "None",
                    ShuffleSeed = c.Channel.ShuffleConfig?.Seed,
                    AttributeNames = c.Channel.DataSource.S3DataSource.AttributeNames,
                    Objects = ChannelResolver.Share(c.Objects, c.Channel.DataSource.S3DataSource.S3DataDistributionType ?? "FullyReplicated", i, count),
                }).ToList(),
            });
        }

        return plans;
    }

    private async Task<string?> UploadArtifactsAsync(IReadOnlyList<HostPlan> plans)
    {
        var output = Job.Definition.OutputDataConfig;
        var prefix = S3Location.Parse(output.S3OutputPath).Append($"{Job.Name}/output/");
        try
        {
            var model = ArtifactPacker.Collect(plans.Select(p => Path.Combine(p.HostDirectory, "model")), w => OnLog("algo-1", "[trainyard] " + w));
            if (output.CompressionType == "NONE")
            {
                await ArtifactPacker.UploadUncompressedAsync(_objects, model, prefix.Append("model/"), CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await _objects.UploadAsync(prefix.Append("model.tar.gz"), (s, ct) => ArtifactPacker.WriteTarGzAsync(model, s, ct), CancellationToken.None).ConfigureAwait(false);
            }

            var data = ArtifactPacker.Collect(plans.Select(p => Path.Combine(p.HostDirectory, "output", "data")));
            if (data.Count > 0 || output.CompressionType != "NONE")
            {
                await _objects.UploadAsync(prefix.Append("output.tar.gz"), (s, ct) => ArtifactPacker.WriteTarGzAsync(data, s, ct), CancellationToken.None).ConfigureAwait(false);
            }

            return null;
        }
        catch (Exception e) when (e is ObjectStoreException or IOException or UnauthorizedAccessException)
        {
            var reason = $"ClientError: could not upload the model artifacts to {prefix}: {e.Message}";
            OnLog("algo-1", "[trainyard] " + reason);
            return reason;
        }
    }

    /// <summary>The URI of model.tar.gz (or of the model/ prefix when CompressionType is NONE).</summary>
    public static string ModelArtifactsUri(CreateTrainingJobRequest definition)
    {
        var prefix = S3Location.Parse(definition.OutputDataConfig.S3OutputPath).Append($"{definition.TrainingJobName}/output/");
        return (definition.OutputDataConfig.CompressionType == "NONE" ? prefix.Append("model/") : prefix.Append("model.tar.gz")).ToString();
    }

    private void CleanUp(IReadOnlyList<HostPlan> plans)
    {
        if (_options.KeepInputData)
        {
            return;
        }

        foreach (var plan in plans)
        {
            try
            {
                var data = Path.Combine(plan.HostDirectory, "input", "data");
                if (Directory.Exists(data))
                {
                    Directory.Delete(data, recursive: true);
                }
            }
            catch (IOException)
            {
                // Best effort: a FIFO still open or a mount still busy is cleaned up by its owner.
            }
        }
    }

    /// <summary>How much later than the server a host enforces MaxRuntimeInSeconds on its own.</summary>
    private static readonly TimeSpan HostDeadlineMargin = TimeSpan.FromSeconds(5);

    private void OnMaxRuntime()
    {
        if (_store.Apply(Job.Name, JobEvent.TimeOut) is not null)
        {
            OnLog("algo-1", "[trainyard] MaxRuntimeInSeconds exceeded: stopping the job.");
            RequestStop();
        }
    }

    /// <summary>Ends the job with <paramref name="end"/>, recording its artifacts and final metrics.</summary>
    private void Finish(JobEvent end)
    {
        List<MetricData> metrics;
        lock (_gate)
        {
            metrics = [.. _lastMetrics.Values.OrderBy(m => m.MetricName, StringComparer.Ordinal)];
            _metricSeries?.Dispose();
            _metricSeries = null;
        }

        _store.Apply(Job.Name, end, j => j with
        {
            ModelArtifacts = ModelArtifactsUri(j.Definition),
            FinalMetrics = [.. metrics],
        });
        _stop.Dispose();
    }

    void IHostEvents.OnPhase(string host, HostPhase phase)
    {
        bool downloading = false, training = false, pulling = false;
        lock (_gate)
        {
            if (phase == HostPhase.Downloading && _downloading.Add(host) && _downloading.Count == 1)
            {
                downloading = true;
            }
            else if (phase == HostPhase.PullingImage && !_pulling)
            {
                _pulling = pulling = true;
            }
            else if (phase == HostPhase.Training && _training.Add(host) && _training.Count == _hostCount)
            {
                training = true;
            }
        }

        if (downloading)
        {
            _store.Apply(Job.Name, JobEvent.Download);
        }

        if (pulling)
        {
            // SageMaker downloads the image inside Training: "Downloading the training image", then the
            // usual message once every host trains.
            _store.Apply(Job.Name, new JobEvent(JobEventKind.Train, JobStateMachine.DownloadingImageMessage));
        }

        if (training)
        {
            _store.Apply(Job.Name, Volatile.Read(ref _pulling) ? JobEvent.Note(JobStateMachine.TrainingMessage) : JobEvent.Train);
        }
    }

    void IHostEvents.OnLog(string host, string line) => OnLog(host, line);

    void IHostEvents.Flush()
    {
        lock (_gate)
        {
            _metricSeries?.Flush();
        }
    }

    void IHostEvents.OnPlaced(string state) =>
        _store.Update(Job.Name, j => j with { ExecutorName = _executor.Name, ExecutorState = state });

    private void OnLog(string host, string line)
    {
        for (var i = 0; i < _metrics.Count; i++)
        {
            var (definition, regex) = _metrics[i];
            if (regex is null)
            {
                continue;
            }

            try
            {
                var match = regex.Match(line);
                if (!match.Success)
                {
                    continue;
                }

                var text = match.Groups.Count > 1 ? match.Groups[1].Value : match.Value;
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    var point = new MetricPoint { MetricName = definition.Name, Host = host, Value = value, Timestamp = DateTimeOffset.UtcNow };
                    lock (_gate)
                    {
                        _lastMetrics[definition.Name] = new MetricData { MetricName = definition.Name, Value = value, Timestamp = point.Timestamp };
                        _metricSeries ??= OpenMetricSeries();
                        _metricSeries.WriteLine(JsonSerializer.Serialize(point, TrainyardJsonContext.Default.MetricPoint));
                        if (point.Timestamp - _lastMetricFlush > TimeSpan.FromSeconds(1))
                        {
                            _metricSeries.Flush();
                            _lastMetricFlush = point.Timestamp;
                        }
                    }
                }
            }
            catch (RegexMatchTimeoutException)
            {
                // A pathological pattern must not stall the log pipeline: it is switched off for this job.
                lock (_gate)
                {
                    _metrics[i] = (definition, null);
                }

                LogLine?.Invoke(host, $"[trainyard] The regular expression of metric '{definition.Name}' took too long on a log line; the metric is no longer extracted for this job.");
            }
        }

        LogLine?.Invoke(host, line);
    }

    private StreamWriter OpenMetricSeries()
    {
        Directory.CreateDirectory(JobDirectory);
        return new StreamWriter(new FileStream(MetricSeriesPath(JobDirectory), FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1 << 16));
    }

    /// <summary>Where a job's metric series is kept, one JSON object per line.</summary>
    public static string MetricSeriesPath(string jobDirectory) => Path.Combine(jobDirectory, "metrics.jsonl");

    void IHostEvents.OnImageProgress(string host, Trainyard.Images.Cache.PullProgress progress) => ImageProgress?.Invoke(host, progress);

    void IHostEvents.OnProgress(string host, long bytesDone, long bytesTotal, int objectsDone, int objectsTotal) =>
        Progress?.Invoke(host, bytesDone, bytesTotal, objectsDone, objectsTotal);

    [LoggerMessage(EventId = 103, Level = LogLevel.Error, Message = "Job {Job}: the host runtime of {Host} failed")]
    private static partial void LogHostCrashed(ILogger logger, Exception exception, string job, string host);

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Job {Job} failed inside Trainyard")]
    private static partial void LogCrashed(ILogger logger, Exception exception, string job);
}
