using Trainyard.Storage;

namespace Trainyard.Hosts;

/// <summary>
/// Everything one host of a job needs, decided by the job runner and handed to whichever executor
/// places the host. Serialisable, so a host runtime in another process (Slurm) gets the same plan.
/// </summary>
public sealed record HostPlan
{
    public required string JobName { get; init; }
    public required string JobArn { get; init; }
    public required string Region { get; init; }
    public required string HostName { get; init; }
    public required IReadOnlyList<string> Hosts { get; init; }

    /// <summary>Host name → the address it resolves to (a loopback address of its own on one machine).</summary>
    public required IReadOnlyDictionary<string, string> HostAddresses { get; init; }

    /// <summary>The directory that is <c>/opt/ml</c> for this host.</summary>
    public required string HostDirectory { get; init; }

    /// <summary>
    /// The algorithm: a directory holding an executable <c>train</c>, or an executable file; or a container
    /// image's location (<see cref="Trainyard.Images.ResolvedImage.Parse"/> tells which).
    /// </summary>
    public required string ImagePath { get; init; }

    /// <summary>Where images are cached on the machine the host runs on (shared, or node-local with --image-cache).</summary>
    public string? ImageCache { get; init; }

    /// <summary>Registries that may be reached over plain HTTP besides loopback ones.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>The first host id of the job's user-namespace range (image hosts).</summary>
    public long IdRangeStart { get; init; }

    public IReadOnlyList<string>? ContainerEntrypoint { get; init; }
    public IReadOnlyList<string>? ContainerArguments { get; init; }
    public required IReadOnlyDictionary<string, string> HyperParameters { get; init; }
    public required IReadOnlyDictionary<string, string> Environment { get; init; }
    public required string InstanceTypeName { get; init; }
    public required IReadOnlyList<ChannelPlan> Channels { get; init; }
    public required long VolumeSizeBytes { get; init; }

    /// <summary>The CreateTrainingJob request as accepted, for trainingjobconfig.json.</summary>
    public required string TrainingJobConfigJson { get; init; }

    public required string LogPath { get; init; }
    public bool UseSandbox { get; init; } = true;
    public required TimeSpan StopGracePeriod { get; init; }

    /// <summary>The plan format this server writes; a host refuses a plan from a newer one, and a server reads every older one.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>The format of this plan (<see cref="CurrentFormatVersion"/> when written; absent in plans before versions: 0).</summary>
    public int FormatVersion { get; init; }

    /// <summary>
    /// When a host that outlives the server stops its algorithm on its own if nobody has by then: the job's
    /// MaxRuntimeInSeconds after its plan was made, plus a margin that lets a running server act first.
    /// </summary>
    public DateTimeOffset? Deadline { get; init; }
    /// <summary>CheckpointConfig.S3Uri, when the job has one.</summary>
    public string? CheckpointS3Uri { get; init; }

    /// <summary>CheckpointConfig.LocalPath (default /opt/ml/checkpoints), as the algorithm sees it.</summary>
    public string? CheckpointLocalPath { get; init; }

    /// <summary>The host-side directory that holds the checkpoints.</summary>
    public string CheckpointDirectory => Path.Combine(HostDirectory, "checkpoints");

    /// <summary>StoppingCondition.MaxPendingTimeInSeconds: how long a cluster may keep the job waiting for nodes.</summary>
    public TimeSpan? MaxPendingTime { get; init; }

    /// <summary>The object store a host process outside the server opens: <c>local</c> or <c>s3</c>.</summary>
    public string ObjectStore { get; init; } = "local";

    /// <summary>What the algorithm needs to reach the job's store itself (endpoint, credentials); the job's Environment wins.</summary>
    public IReadOnlyDictionary<string, string> StoreEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>The local store's root, for <see cref="ObjectStore"/> <c>local</c>.</summary>
    public string? ObjectStoreRoot { get; init; }

    /// <summary>Where a host process outside the server records its phases and result (JSON lines).</summary>
    public string EventsPath => Path.Combine(Path.GetDirectoryName(HostDirectory)!, HostName + ".events.jsonl");

    /// <summary>A file whose existence asks the host to stop (a cluster executor's stop signal).</summary>
    public string StopPath => Path.Combine(Path.GetDirectoryName(HostDirectory)!, "stop");
}

/// <summary>One input channel as one host receives it: its mode and its share of the objects.</summary>
public sealed record ChannelPlan
{
    public required string Name { get; init; }
    public required string InputMode { get; init; }
    public required string S3DataType { get; init; }
    public required string S3DistributionType { get; init; }
    public string? ContentType { get; init; }
    public string? CompressionType { get; init; }
    public string RecordWrapperType { get; init; } = "None";
    public long? ShuffleSeed { get; init; }
    public IReadOnlyList<string>? AttributeNames { get; init; }

    /// <summary>This host's objects, each with the path it takes below the channel directory.</summary>
    public required IReadOnlyList<ChannelObject> Objects { get; init; }
}

/// <summary>An object and the relative path it lands at inside the channel.</summary>
public sealed record ChannelObject(ObjectInfo Info, string RelativePath);
