using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Trainyard.DataPlane;
using Trainyard.Executors;
using Trainyard.Model;
using Trainyard.Storage;

namespace Trainyard.Jobs;

/// <summary>
/// The training-job operations behind the API: accepts jobs (checks beyond the service model's
/// constraints, capacity), starts a <see cref="JobRunner"/> for each, and answers Describe, List, Stop
/// and the tag operations from the store.
/// </summary>
public sealed partial class TrainingJobService : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, RunningJob> _running = new(StringComparer.OrdinalIgnoreCase);
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Task _schedulerLoop;

    public TrainingJobService(TrainyardOptions options, JobStore store, IObjectStore objects, IExecutor executor, Algorithms.AlgorithmStore algorithms, ILoggerFactory loggers)
    {
        Options = options;
        Algorithms = algorithms;
        Store = store;
        Objects = objects;
        Executor = executor;
        _logger = loggers.CreateLogger<TrainingJobService>();
        Scheduler = new JobScheduler(options, store, job => Launch(job, runner => runner.RunAsync()), _logger);
        RecoverInterruptedJobs();
        _schedulerLoop = Supervision.Supervisor.Run("The job queue", Scheduler.RunAsync, _logger, _shutdown.Token);
    }

    /// <summary>Capacity and the queue of jobs waiting for it.</summary>
    public JobScheduler Scheduler { get; }

    public TrainyardOptions Options { get; }

    public JobStore Store { get; }

    public IObjectStore Objects { get; }

    public IExecutor Executor { get; }

    public Algorithms.AlgorithmStore Algorithms { get; }

    /// <summary>Raised when a runner starts, so that followers (the CLI) can attach to its logs.</summary>
    public event Action<JobRunner>? RunnerStarted;

    public string ArnOf(string name) => $"arn:aws:sagemaker:{Options.Region}:{Options.AccountId}:training-job/{name.ToLowerInvariant()}";

    private TrainyardOptions? _hostOptions;

    /// <summary>
    /// Tells the hosts of jobs launched from now on that the embedded store answers S3 at
    /// <paramref name="endpoint"/>: <c>AWS_ENDPOINT_URL_S3</c> (botocore ≥ 1.31, the AWS SDKs) and
    /// <c>S3_ENDPOINT_URL</c> (the training toolkit, older boto3 code), with placeholder credentials when the
    /// server has none to give (the embedded store does not check signatures), unless the server's own
    /// host environment already names them.
    /// </summary>
    public void ServeStoreAt(Uri endpoint, Api.Auth.HostIdentity? identity = null)
    {
        var url = endpoint.ToString().TrimEnd('/');
        var environment = new Dictionary<string, string>(Options.HostEnvironment, StringComparer.Ordinal);
        environment.TryAdd("AWS_ENDPOINT_URL_S3", url);
        environment.TryAdd("S3_ENDPOINT_URL", environment["AWS_ENDPOINT_URL_S3"]);
        if (identity is not null)
        {
            // With credentials configured, hosts sign with the server's own host identity.
            environment["AWS_ACCESS_KEY_ID"] = identity.AccessKeyId;
            environment["AWS_SECRET_ACCESS_KEY"] = identity.Secret;
        }
        else if (!environment.ContainsKey("AWS_ACCESS_KEY_ID"))
        {
            environment["AWS_ACCESS_KEY_ID"] = "trainyard";
            environment["AWS_SECRET_ACCESS_KEY"] = "trainyard";
        }

        _hostOptions = Options with { HostEnvironment = environment };
    }

    public JobRunner? Runner(string name) => _running.TryGetValue(name, out var r) ? r.Runner : null;

    /// <summary>Accepts a job whose body already passed the service-model validation.</summary>
    public async Task<JobRecord> CreateAsync(CreateTrainingJobRequest request, CancellationToken cancellationToken, string? createdBy = null)
    {
        var errors = new List<string>();
        var spec = request.AlgorithmSpecification;
        string? imagePath = null;
        var namedImage = spec.TrainingImage;
        if (spec.TrainingImage is null && spec.AlgorithmName is null)
        {
            errors.Add("AlgorithmSpecification must name either a TrainingImage or an AlgorithmName.");
        }
        else if (spec.TrainingImage is not null && spec.AlgorithmName is not null)
        {
            errors.Add("AlgorithmSpecification may name a TrainingImage or an AlgorithmName, not both.");
        }
        else if (spec.AlgorithmName is not null)
        {
            var algorithm = Algorithms.Resolve(spec.AlgorithmName);
            if (algorithm is null)
            {
                errors.Add($"Algorithm '{spec.AlgorithmName}' does not exist.");
            }
            else if (algorithm.Status != Trainyard.Algorithms.AlgorithmStatus.Completed)
            {
                errors.Add($"Algorithm '{algorithm.Name}' is {algorithm.Status}; only a Completed algorithm can train (see DescribeAlgorithm's AlgorithmStatusDetails).");
            }
            else
            {
                var training = algorithm.Definition.TrainingSpecification;
                var (problems, hyperParameters) = Trainyard.Algorithms.AlgorithmChecks.CheckJob(
                    algorithm.Name, training, spec.TrainingInputMode, request.HyperParameters, request.InputDataConfig, request.ResourceConfig);
                errors.AddRange(problems);
                namedImage = training.TrainingImage;
                imagePath = ImageResolver.Resolve(training.TrainingImage, Options, out var algorithmImageProblem);
                if (imagePath is null)
                {
                    errors.Add(algorithmImageProblem!);
                }

                request = request with
                {
                    HyperParameters = hyperParameters.Count > 0 ? hyperParameters : request.HyperParameters,
                    AlgorithmSpecification = spec with { MetricDefinitions = spec.MetricDefinitions ?? training.MetricDefinitions },
                };
            }
        }
        else if ((imagePath = ImageResolver.Resolve(spec.TrainingImage!, Options, out var problem)) is null)
        {
            errors.Add(problem!);
        }

        // A framework image runs the job's script: it must name one, on this machine's launchers.
        if (imagePath is not null && Trainyard.Images.ResolvedImage.Parse(imagePath) is Trainyard.Images.ResolvedImage.ScriptMode)
        {
            errors.AddRange(Trainyard.ScriptMode.ScriptModeChecks.Problems(namedImage!, request.HyperParameters, request.Environment));
        }

        foreach (var metric in request.AlgorithmSpecification.MetricDefinitions ?? [])
        {
            if (Trainyard.Algorithms.AlgorithmChecks.MetricProblem(metric) is { } metricProblem)
            {
                errors.Add(metricProblem);
            }
        }

        if (request.ResourceConfig.InstanceGroups is not null)
        {
            errors.Add("ResourceConfig.InstanceGroups (heterogeneous clusters) is not supported; use InstanceType and InstanceCount.");
        }
        else
        {
            if (request.ResourceConfig.InstanceType is null)
            {
                errors.Add("ResourceConfig.InstanceType is required.");
            }

            if (request.ResourceConfig.InstanceCount is null or < 1)
            {
                errors.Add("ResourceConfig.InstanceCount must be at least 1.");
            }
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (channel, index) in (request.InputDataConfig ?? []).Select((c, i) => (c, i + 1)))
        {
            if (!names.Add(channel.ChannelName))
            {
                errors.Add($"InputDataConfig has two channels named '{channel.ChannelName}'; channel names must be unique.");
            }

            if (channel.DataSource.S3DataSource is null)
            {
                errors.Add(channel.DataSource.FileSystemDataSource is not null
                    ? $"Channel '{channel.ChannelName}': FileSystemDataSource (EFS, FSx) is not supported; use an S3DataSource."
                    : $"Channel '{channel.ChannelName}': DataSource must have an S3DataSource.");
            }
            else if (channel.DataSource.S3DataSource.S3DataType == "AugmentedManifestFile"
                && (channel.InputMode ?? spec.TrainingInputMode) != "Pipe")
            {
                errors.Add($"Channel '{channel.ChannelName}': AugmentedManifestFile is supported only in Pipe input mode.");
            }
        }

        if (request.CheckpointConfig?.LocalPath is { } checkpointPath
            && !(checkpointPath.StartsWith("/opt/", StringComparison.Ordinal) || checkpointPath.StartsWith("/tmp/", StringComparison.Ordinal) || Directory.Exists(checkpointPath)))
        {
            errors.Add($"CheckpointConfig.LocalPath '{checkpointPath}' must be an absolute path under /opt or /tmp (or a directory that exists on this machine): the sandbox's root file system is read-only.");
        }

        if (errors.Count > 0)
        {
            throw new ApiValidationException(string.Join(" ", errors));
        }

        if (JobScheduler.NeverFits(Options, request.ResourceConfig.InstanceType!, request.ResourceConfig.InstanceCount!.Value) is { } tooBig)
        {
            throw new ResourceLimitExceededException(tooBig);
        }

        // SageMaker refuses a channel with no data before any job exists.
        foreach (var channel in request.InputDataConfig ?? [])
        {
            var source = channel.DataSource.S3DataSource!;
            var uri = S3Location.Parse(source.S3Uri);
            var found = false;
            try
            {
                if (source.S3DataType == "S3Prefix")
                {
                    found = await Objects.AnyAsync(uri, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    found = await Objects.HeadAsync(uri, cancellationToken).ConfigureAwait(false) is not null;
                }
            }
            catch (ObjectStoreException)
            {
                // The store cannot be read (credentials, bucket, endpoint): the job is accepted and fails
                // while downloading, with a FailureReason naming the URI and the store's error.
                continue;
            }

            if (!found)
            {
                throw new ApiValidationException(
                    $"No S3 objects found under S3 URL \"{source.S3Uri}\" given in input data source. Please ensure that the bucket exists in the selected region ({Options.Region}), that objects exist under that S3 prefix, and that the role \"{request.RoleArn}\" has \"s3:ListBucket\" permissions on bucket \"{uri.Bucket}\".");
            }
        }

        var now = DateTimeOffset.UtcNow;
        var job = JobStateMachine.Start(new JobRecord
        {
            Name = request.TrainingJobName,
            Arn = ArnOf(request.TrainingJobName),
            Sequence = Store.NextSequence(),
            Definition = request,
            DefinitionJson = JsonSerializer.Serialize(request, TrainyardJsonContext.Default.CreateTrainingJobRequest),
            Status = TrainingJobStatus.InProgress,
            SecondaryStatus = SecondaryStatus.Starting,
            CreationTime = now,
            LastModifiedTime = now,
            Tags = [.. request.Tags ?? []],
            ImagePath = imagePath!,
            CreatedBy = createdBy,
        }, now);

        if (!Store.TryCreate(job))
        {
            throw new ResourceInUseException($"Training job names must be unique within an AWS account and region, and a training job with this name already exists ({ArnOf(request.TrainingJobName)})");
        }

        Scheduler.Enqueue(job);
        return job;
    }

    /// <summary>
    /// Runs a job's runner. It is registered before it starts, so that a Stop from now on reaches it (a Stop
    /// that came before is in the store, and the runner reads it when it starts), and it is removed when it
    /// ends — only that entry, never a later one for the same name.
    /// </summary>
    private void Launch(JobRecord job, Func<JobRunner, Task> run)
    {
        var runner = new JobRunner(job, Store, Objects, Executor, _hostOptions ?? Options, _logger);
        var entry = new RunningJob(runner);
        _running[job.Name] = entry;
        RunnerStarted?.Invoke(runner);
        _ = Task.Run(async () =>
        {
            try
            {
                await run(runner).ConfigureAwait(false);
            }
            finally
            {
                _running.TryRemove(KeyValuePair.Create(job.Name, entry));
                Scheduler.Release(job);
                entry.Ended.TrySetResult();
            }
        }, CancellationToken.None);
    }

    public JobRecord Describe(string name) => Store.Get(name) ?? throw NotFound();

    /// <summary>StopTrainingJob: SIGTERM now, SIGKILL after the grace period; artifacts are still uploaded.</summary>
    public void Stop(string name)
    {
        var job = Store.Get(name) ?? throw NotFound();
        if (job.IsTerminal)
        {
            throw new ApiValidationException($"The training job {job.Name} has already ended with status {job.Status}; only an InProgress job can be stopped.");
        }

        Store.Apply(name, JobEvent.Stop);
        if (Scheduler.Remove(name))
        {
            // It was waiting for capacity: nothing ran, nothing to upload.
            Store.Apply(name, JobEvent.Halt);
            return;
        }

        Runner(name)?.RequestStop();
    }

    public (List<JobRecord> Page, string? NextToken) List(ListTrainingJobsRequest request) => JobQuery.List(Store, request);

    public JobRecord ByArn(string arn)
    {
        const string Marker = ":training-job/";
        var at = arn.IndexOf(Marker, StringComparison.Ordinal);
        var job = at < 0 ? null : Store.Get(arn[(at + Marker.Length)..]);
        return job is not null && string.Equals(job.Arn, arn, StringComparison.OrdinalIgnoreCase) ? job : throw NotFound();
    }

    public void AddTags(string arn, IReadOnlyList<Tag> tags)
    {
        var job = ByArn(arn);
        Store.Update(job.Name, j =>
        {
            var list = j.Tags;
            foreach (var tag in tags)
            {
                var existing = list.FindIndex(t => t.Key == tag.Key);
                list = existing >= 0 ? list.SetItem(existing, tag) : list.Add(tag);
            }

            if (list.Count > 50)
            {
                throw new ResourceLimitExceededException($"A resource can have at most 50 tags; {job.Name} would have {list.Count}.");
            }

            return j with { Tags = list };
        });
    }

    public void DeleteTags(string arn, IReadOnlyList<string> keys)
    {
        var job = ByArn(arn);
        Store.Update(job.Name, j => j with { Tags = j.Tags.RemoveAll(t => keys.Contains(t.Key)) });
    }

    /// <summary>
    /// The jobs a previous server left unfinished. Those whose hosts were placed by an executor whose hosts
    /// outlive the server are followed again (they hold their instances); those placed by one whose hosts
    /// died with it fail, saying so; those that never got their instances wait again, in their order.
    /// </summary>
    private void RecoverInterruptedJobs()
    {
        var unfinished = Store.All.Where(j => !j.IsTerminal).OrderBy(j => j.Sequence).ToList();
        foreach (var job in unfinished.Where(j => j.ExecutorName is not null))
        {
            if (Executor is IReattachingExecutor reattaching && job.ExecutorName == Executor.Name && job.ExecutorState is { } state
                && File.Exists(Path.Combine(Options.JobDirectory(job.Name), "plan.json")))
            {
                Scheduler.Occupy(job);
                Launch(job, runner => runner.ResumeAsync(reattaching, state));
                LogResumed(_logger, job.Name, Executor.Name, state);
                continue;
            }

            var reason = job.ExecutorName == Executor.Name
                ? $"InternalServerError: the Trainyard server stopped while this job was {job.SecondaryStatus}; its hosts were ended with it. Jobs on the {job.ExecutorName} executor are not reattached after a restart: create the job again."
                : $"InternalServerError: the job's hosts were placed by the {job.ExecutorName} executor, and this server runs the {Executor.Name} executor; start it with --executor {job.ExecutorName} to follow them.";
            Store.Apply(job.Name, JobEvent.Fail(reason));
            LogRecovered(_logger, job.Name, job.SecondaryStatus);

            // Hosts that outlived the server and are not followed stop themselves (each watches this file).
            var hosts = Path.Combine(Options.JobDirectory(job.Name), "hosts");
            if (Directory.Exists(hosts))
            {
                File.WriteAllText(Path.Combine(hosts, "stop"), "stop\n");
            }

            // FastFile mounts of its hosts, if their watchdogs died with the server.
            DataPlane.FastFile.FastFileMount.UnmountStale(Options.JobDirectory(job.Name), _logger);
        }

        foreach (var job in unfinished.Where(j => j.ExecutorName is null))
        {
            if (job.Status == TrainingJobStatus.Stopping)
            {
                // Stopped before it ever started.
                Store.Apply(job.Name, JobEvent.Halt);
                continue;
            }

            Scheduler.Enqueue(job);
        }
    }

    private static ApiValidationException NotFound() => new("Requested resource not found.");

    /// <summary>Waits for every running job to end (stopping them first when <paramref name="stop"/>).</summary>
    public async Task DrainAsync(bool stop)
    {
        if (stop)
        {
            foreach (var name in _running.Keys)
            {
                try
                {
                    Stop(name);
                }
                catch (ApiException)
                {
                    // ended meanwhile
                }
            }
        }

        await Task.WhenAll(_running.Values.Select(r => r.Ended.Task)).ConfigureAwait(false);
    }

    /// <summary>
    /// Shutting the server down stops its local jobs (their hosts live in this process); jobs on an
    /// executor whose hosts outlive the server (Slurm) keep running and are followed again on restart.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        Scheduler.Close();
        await _shutdown.CancelAsync().ConfigureAwait(false);
        await _schedulerLoop.ConfigureAwait(false);
        if (Executor is IReattachingExecutor && !Options.StopJobsOnExit)
        {
            return;
        }

        await DrainAsync(stop: true).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Job {Job} is followed again on the {Executor} executor ({State})")]
    private static partial void LogResumed(ILogger logger, string job, string executor, string state);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Job {Job} was {Phase} when the server stopped; it is marked Failed")]
    private static partial void LogRecovered(ILogger logger, string job, SecondaryStatus phase);
}
