using System.CommandLine;

namespace Trainyard.Cli;

/// <summary>Options several commands share, and how they become <see cref="TrainyardOptions"/>.</summary>
internal static class CommonOptions
{
    public static string DefaultHome =>
        Environment.GetEnvironmentVariable("TRAINYARD_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".trainyard");

    public static readonly Option<string> Home = new("--home")
    {
        Description = "Directory for the database, job directories and logs (default: $TRAINYARD_HOME or ~/.trainyard)",
        DefaultValueFactory = _ => DefaultHome,
    };

    public static readonly Option<string?> ObjectStore = new("--object-store")
    {
        Description = "Where s3:// URIs live: a directory (default <home>/objects, s3://bucket/key = <dir>/bucket/key), or s3 for an S3 endpoint configured the AWS way (AWS_ENDPOINT_URL_S3, credentials, AWS_REGION)",
    };

    public static readonly Option<int> StopGraceSeconds = new("--stop-grace-seconds")
    {
        Description = "Seconds between SIGTERM and SIGKILL when a job is stopped or times out",
        DefaultValueFactory = _ => 120,
    };

    public static readonly Option<string> Region = new("--region")
    {
        Description = "Region used in ARNs and given to algorithms as AWS_REGION",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("AWS_REGION") is { Length: > 0 } r ? r : "us-east-1",
    };

    public static readonly Option<string> AccountId = new("--account-id")
    {
        Description = "12-digit account id used in ARNs",
        DefaultValueFactory = _ => "000000000000",
    };

    public static readonly Option<string[]> Images = new("--image")
    {
        Description = "Map an image name (an ECR URI, say, with or without its tag) to a local algorithm or to another image: NAME=PATH or NAME=REGISTRY/REPO:TAG (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<string?> ImageCache = new("--image-cache")
    {
        Description = "Where pulled images are kept (default <home>/images; on Slurm a directory on each node, else the shared home)",
    };

    public static readonly Option<string[]> InsecureRegistries = new("--insecure-registry")
    {
        Description = "A registry HOST[:PORT] that may be reached over plain HTTP or without certificate checks (loopback registries always may; repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<long> UserNamespaceBase = new("--userns-base")
    {
        Description = "First host uid/gid of the id ranges image hosts run in (job range = base + slot × 65536; default 1879048192 = 0x70000000)",
        DefaultValueFactory = _ => Trainyard.Images.Runtime.IdRange.DefaultBase,
    };

    public static readonly Option<int> MaxInstances = new("--max-instances")
    {
        Description = "Hosts that may run at once; jobs beyond it wait their turn (a job that could never fit gets ResourceLimitExceeded)",
        DefaultValueFactory = _ => 64,
    };

    public static readonly Option<string[]> Capacity = new("--capacity")
    {
        Description = "Hosts of one instance type that may run at once: TYPE=N, e.g. --capacity ml.m5.large=4 (repeatable)",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<bool> NoSandbox = new("--no-sandbox")
    {
        Description = "Run algorithms as plain processes even where bubblewrap is installed",
    };

    public static readonly Option<bool> HostsInProcess = new("--hosts-in-process")
    {
        Description = "Run local hosts inside the server instead of as `trainyard host` processes: they start sooner but end with the server, which cannot follow them again after a restart",
    };

    public static readonly Option<string> Endpoint = new("--endpoint-url")
    {
        Description = "The Trainyard server (default: $TRAINYARD_ENDPOINT or http://127.0.0.1:8080)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("TRAINYARD_ENDPOINT") is { Length: > 0 } e ? e : "http://127.0.0.1:8080",
    };

    public static readonly Option<string> Executor = new("--executor")
    {
        Description = "Where hosts run: local (this machine, bubblewrap sandboxes) or slurm (one Slurm job per training job)",
        DefaultValueFactory = _ => "local",
    };

    public static readonly Option<string?> SlurmPartition = new("--slurm-partition") { Description = "Slurm partition for training jobs (default: the cluster's default)" };

    public static readonly Option<string[]> SlurmSbatchArgs = new("--slurm-sbatch-arg") { Description = "Extra sbatch flag, e.g. --slurm-sbatch-arg=--account=ml (repeatable)" };

    public static readonly Option<string?> SlurmTrainyard = new("--slurm-trainyard") { Description = "Path of the trainyard executable on the cluster nodes (default: this one)" };

    public static readonly Option<int> SlurmNice = CreateSlurmNice();

    private static Option<int> CreateSlurmNice()
    {
        var option = new Option<int>("--slurm-nice")
        {
            Description = "Nice value (0-19) for each Slurm job's own processes (batch script, srun, slurmstepd, host runtime), set on their sessions too; the algorithm runs at normal priority. 0 leaves them alone",
            DefaultValueFactory = _ => 10,
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 19)
            {
                r.AddError("--slurm-nice must be between 0 and 19.");
            }
        });
        return option;
    }

    /// <summary>The object store the options name: null for the embedded local directory.</summary>
    public static Trainyard.Storage.IObjectStore? Store(TrainyardOptions options) =>
        options.ObjectStore == "s3" ? Trainyard.S3.S3ObjectStore.FromEnvironment() : null;

    /// <summary>The executors a server can choose from, by name.</summary>
    public static IReadOnlyDictionary<string, Func<IServiceProvider, Trainyard.Executors.IExecutor>> Executors(ParseResult result)
    {
        var slurm = new Trainyard.Slurm.SlurmOptions
        {
            Partition = result.GetValue(SlurmPartition),
            ExtraSbatchArguments = result.GetValue(SlurmSbatchArgs) ?? [],
            TrainyardExecutable = result.GetValue(SlurmTrainyard),
            TaskNiceness = result.GetValue(SlurmNice),
        };
        return new Dictionary<string, Func<IServiceProvider, Trainyard.Executors.IExecutor>>(StringComparer.Ordinal)
        {
            ["slurm"] = sp => new Trainyard.Slurm.SlurmExecutor(slurm, Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Microsoft.Extensions.Logging.ILogger<Trainyard.Slurm.SlurmExecutor>>(sp)),
        };
    }

    public static void AddServerOptions(Command command)
    {
        command.Options.Add(Executor);
        command.Options.Add(SlurmPartition);
        command.Options.Add(SlurmSbatchArgs);
        command.Options.Add(SlurmTrainyard);
        command.Options.Add(SlurmNice);
        command.Options.Add(Home);
        command.Options.Add(ObjectStore);
        command.Options.Add(StopGraceSeconds);
        command.Options.Add(Region);
        command.Options.Add(AccountId);
        command.Options.Add(Images);
        command.Options.Add(ImageCache);
        command.Options.Add(InsecureRegistries);
        command.Options.Add(UserNamespaceBase);
        command.Options.Add(MaxInstances);
        command.Options.Add(Capacity);
        command.Options.Add(NoSandbox);
        command.Options.Add(HostsInProcess);
    }

    /// <summary>The image map: <c>--image NAME=TARGET</c> flags, then <c>&lt;home&gt;/images.json</c>.</summary>
    public static Dictionary<string, string> ImageMap(ParseResult result, string home)
    {
        var images = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var mapping in result.GetValue(Images) ?? [])
        {
            var eq = mapping.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException($"--image '{mapping}' must be NAME=PATH or NAME=IMAGE.");
            }

            // A target is a path when it looks like one; anything else is another image reference.
            var target = mapping[(eq + 1)..];
            images[mapping[..eq]] = target.StartsWith('/') || target.StartsWith('.') ? Path.GetFullPath(target) : target;
        }

        var imagesFile = Path.Combine(home, "images.json");
        if (File.Exists(imagesFile))
        {
            const string Shape = "must be a JSON object mapping image references to paths or other image references, e.g. {\"123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo\": \"registry.lan:5000/my-algo\"}";
            try
            {
                using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(imagesFile));
                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    if (p.Value.ValueKind != System.Text.Json.JsonValueKind.String || p.Value.GetString() is not { Length: > 0 } target)
                    {
                        throw new CliException($"{imagesFile}: the value of '{p.Name}' is not a non-empty string; the file {Shape}.");
                    }

                    images.TryAdd(p.Name, target);
                }
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
            {
                throw new CliException($"{imagesFile} {Shape}: {e.Message}");
            }
        }

        return images;
    }

    public static TrainyardOptions Build(ParseResult result)
    {
        var home = Path.GetFullPath(result.GetValue(Home)!);
        var images = ImageMap(result, home);
        var capacity = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in result.GetValue(Capacity) ?? [])
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !int.TryParse(entry[(eq + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) || n < 1)
            {
                throw new CliException($"--capacity '{entry}' must be TYPE=N with N at least 1, e.g. ml.m5.large=4.");
            }

            capacity[entry[..eq]] = n;
        }

        if (result.GetValue(MaxInstances) < 1)
        {
            throw new CliException("--max-instances must be at least 1.");
        }

        var grace = result.GetValue(StopGraceSeconds);
        if (grace < 0)
        {
            throw new CliException("--stop-grace-seconds must be 0 or more.");
        }

        var store = result.GetValue(ObjectStore);
        var hostEnvironment = new Dictionary<string, string>(StringComparer.Ordinal);
        if (store == "s3")
        {
            // The algorithms reach the same store the standard AWS way.
            foreach (var name in new[] { "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN" })
            {
                if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } value)
                {
                    hostEnvironment[name] = value;
                }
            }

            if (!hostEnvironment.ContainsKey("AWS_ENDPOINT_URL_S3") && hostEnvironment.TryGetValue("AWS_ENDPOINT_URL", out var endpoint))
            {
                hostEnvironment["AWS_ENDPOINT_URL_S3"] = endpoint;
            }
        }

        var userNamespaceBase = result.GetValue(UserNamespaceBase);
        if (Trainyard.Images.Runtime.IdRange.Problem(userNamespaceBase) is { } idProblem)
        {
            throw new CliException(idProblem + ".");
        }

        return new TrainyardOptions
        {
            Home = home,
            ImageCache = result.GetValue(ImageCache) is { } cache ? Path.GetFullPath(cache) : null,
            InsecureRegistries = result.GetValue(InsecureRegistries) ?? [],
            UserNamespaceBase = userNamespaceBase,
            ObjectStore = store == "s3" ? "s3" : "local",
            ObjectStoreRoot = store is null or "s3" ? null : Path.GetFullPath(store),
            HostEnvironment = hostEnvironment,
            StopGracePeriod = TimeSpan.FromSeconds(grace),
            Region = result.GetValue(Region)!,
            AccountId = result.GetValue(AccountId)!,
            Images = images,
            MaxInstances = result.GetValue(MaxInstances),
            Capacity = capacity,
            Sandbox = !result.GetValue(NoSandbox),
            Executor = result.GetValue(Executor)!,
            // Each local host is a `trainyard host` process, as on Slurm, unless asked otherwise; without an
            // executable to start (a build without the apphost) hosts run in the server.
            HostExecutable = result.GetValue(HostsInProcess) ? null : Trainyard.Executors.HostPlanFile.FindTrainyard(),
        };
    }
}
