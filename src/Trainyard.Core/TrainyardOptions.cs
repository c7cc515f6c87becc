namespace Trainyard;

/// <summary>Server configuration, bound from command-line flags.</summary>
public sealed record TrainyardOptions
{
    /// <summary>Database, job directories and logs live here.</summary>
    public required string Home { get; init; }

    /// <summary>The local object store's root (<c>s3://bucket/key</c> ↔ <c>&lt;dir&gt;/bucket/key</c>).</summary>
    public string? ObjectStoreRoot { get; init; }

    /// <summary>Which object store serves s3:// URIs: <c>local</c> (default) or <c>s3</c>.</summary>
    public string ObjectStore { get; init; } = "local";

    /// <summary>Which executor places hosts: <c>local</c> (default).</summary>
    public string Executor { get; init; } = "local";

    public string Region { get; init; } = "us-east-1";

    public string AccountId { get; init; } = "000000000000";

    /// <summary>Time between SIGTERM and SIGKILL when a job is stopped (SageMaker: 120 s).</summary>
    public TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Image names (an ECR URI, say) mapped to local algorithm paths.</summary>
    public IReadOnlyDictionary<string, string> Images { get; init; } = new Dictionary<string, string>();

    /// <summary>Instances (hosts) that may run at once; jobs beyond it wait in the queue (one that never fits gets ResourceLimitExceeded).</summary>
    public int MaxInstances { get; init; } = 64;

    /// <summary>Instances of one type that may run at once (<c>--capacity ml.m5.large=4</c>); types not named are bounded by <see cref="MaxInstances"/> only.</summary>
    public IReadOnlyDictionary<string, int> Capacity { get; init; } = new Dictionary<string, int>();

    /// <summary>Run hosts in bubblewrap when it is installed.</summary>
    public bool Sandbox { get; init; } = true;

    /// <summary>
    /// AWS shared-credentials files whose profiles may call the server (<c>serve --credentials-file</c>); with
    /// none, requests are not authenticated.
    /// </summary>
    public IReadOnlyList<string> CredentialsFiles { get; init; } = [];

    /// <summary>
    /// Stop every running job when the server shuts down, also on executors whose hosts outlive it (Slurm),
    /// which are otherwise left running for the next start to follow (<c>serve --stop-jobs-on-exit</c>).
    /// </summary>
    public bool StopJobsOnExit { get; init; }

    /// <summary>
    /// The <c>trainyard</c> executable the local executor starts each host with (<c>trainyard host</c>, a
    /// process in a session of its own that outlives the server). Null runs hosts inside the server
    /// (<c>--hosts-in-process</c>): they start a little sooner but end with it.
    /// </summary>
    public string? HostExecutable { get; init; }

    /// <summary>A PEM certificate (and <see cref="TlsKey"/>, its PEM private key) to serve HTTPS with; null serves HTTP.</summary>
    public string? TlsCertificate { get; init; }

    public string? TlsKey { get; init; }

    /// <summary>Keep the hosts' input data after a job ends (it is deleted by default).</summary>
    public bool KeepInputData { get; init; }

    /// <summary>Variables every algorithm gets so that it reaches the same store (AWS_ENDPOINT_URL_S3, credentials).</summary>
    public IReadOnlyDictionary<string, string> HostEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Where pulled images are kept (default <c>&lt;home&gt;/images</c>; a node-local directory with <c>--image-cache</c>).</summary>
    public string? ImageCache { get; init; }

    /// <summary>Registries (<c>host[:port]</c>) reached over plain HTTP or without certificate checks, besides loopback ones.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];

    /// <summary>First host uid/gid of the ranges image hosts run in: a job's range is base + slot × 65536 (see <see cref="Trainyard.Images.Runtime.IdRange"/>).</summary>
    public long UserNamespaceBase { get; init; } = Trainyard.Images.Runtime.IdRange.DefaultBase;

    public string ImageCacheDirectory => ImageCache ?? Path.Combine(Home, "images");

    public string ObjectStoreDirectory => ObjectStoreRoot ?? Path.Combine(Home, "objects");

    public string DatabasePath => Path.Combine(Home, "trainyard.db");

    public string JobDirectory(string job) => Path.Combine(Home, "jobs", job);
}
