using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trainyard.Executors;
using Trainyard.Jobs;
using Trainyard.Storage;

namespace Trainyard.Api;

/// <summary>The Trainyard server: the SageMaker endpoint over Kestrel, the job store and the runners.</summary>
public sealed class TrainyardServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private Persistence.HomeLock? _homeLock;

    private TrainyardServer(WebApplication app, TrainingJobService jobs, JobStore store)
    {
        _app = app;
        Jobs = jobs;
        Store = store;
    }

    public TrainingJobService Jobs { get; }

    public JobStore Store { get; }

    public Algorithms.AlgorithmService Algorithms { get; private init; } = null!;

    /// <summary>The address the server listens on, e.g. <c>http://127.0.0.1:8080</c>.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>
    /// Builds and starts a server. <paramref name="objectStore"/> overrides the store the options name
    /// (the S3 adapter passes itself in); <paramref name="port"/> 0 picks a free port. The home is taken
    /// first, for <paramref name="owner"/> (<c>serve</c>, <c>run</c>), and held until the server is disposed.
    /// </summary>
    /// <exception cref="Persistence.HomeLockedException">Another process holds the home.</exception>
    public static async Task<TrainyardServer> StartAsync(TrainyardOptions options, string bindAddress = "127.0.0.1", int port = 0,
        IObjectStore? objectStore = null, ILoggerFactory? loggers = null, CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, Func<IServiceProvider, IExecutor>>? executors = null, string owner = "serve")
    {
        var homeLock = Persistence.HomeLock.Acquire(options.Home, owner);
        try
        {
            var server = await StartLockedAsync(options, bindAddress, port, objectStore, loggers, cancellationToken, executors).ConfigureAwait(false);
            server._homeLock = homeLock;
            homeLock.Publish(server.Address);
            return server;
        }
        catch
        {
            homeLock.Dispose();
            throw;
        }
    }

    private static async Task<TrainyardServer> StartLockedAsync(TrainyardOptions options, string bindAddress, int port,
        IObjectStore? objectStore, ILoggerFactory? loggers, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, Func<IServiceProvider, IExecutor>>? executors)
    {
        Directory.CreateDirectory(options.Home);
        // Only a server that checks signatures needs an identity for its hosts (a file in the home, made once).
        var hostIdentity = options.CredentialsFiles.Count > 0 ? Auth.HostIdentity.Of(options.Home) : null;
        // The host's defaults would watch the current directory's whole tree for appsettings changes (one
        // inotify watch per directory, and an event per write: a job home under it sent every 256 KiB a 1 GiB
        // download wrote to a watcher thread). Trainyard has no appsettings: its content root is its own
        // directory, and nothing is watched.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Logging.ClearProviders();
        if (loggers is not null)
        {
            builder.Services.AddSingleton(loggers);
        }
        else
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);

            // A port in use is reported once, by the caller, in words; not as the host's stack trace.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        }

        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 64L << 20;
            k.AddServerHeader = false;
        });
        if (options.TlsCertificate is { } certificate)
        {
            var pem = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(certificate, options.TlsKey);
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h => h.ServerCertificate = pem));
            builder.WebHost.UseUrls($"https://{bindAddress}:{port}");
        }
        else
        {
            builder.WebHost.UseUrls($"http://{bindAddress}:{port}");
        }
        var database = new Persistence.TrainyardDatabase(options.DatabasePath);
        var local = new LocalObjectStore(options.ObjectStoreDirectory);
        IObjectStore objects = objectStore is null ? local : new RoutingObjectStore(objectStore, local);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(database);
        builder.Services.AddSingleton(sp => new JobStore(database, sp.GetRequiredService<ILogger<JobStore>>()));
        builder.Services.AddSingleton(objects);
        // Executors register by name; the options pick one, and an unknown name fails at start-up.
        var known = new Dictionary<string, Func<IServiceProvider, IExecutor>>(StringComparer.Ordinal)
        {
            ["local"] = sp => options.HostExecutable is { } trainyard
                ? new LocalProcessExecutor(trainyard, sp.GetRequiredService<ILoggerFactory>())
                : new LocalExecutor(objects, sp.GetRequiredService<ILoggerFactory>()),
        };
        foreach (var (name, factory) in executors ?? new Dictionary<string, Func<IServiceProvider, IExecutor>>())
        {
            if (!known.TryAdd(name, factory))
            {
                throw new InvalidOperationException($"Two executors are registered as '{name}'.");
            }
        }

        if (!known.TryGetValue(options.Executor, out var chosen))
        {
            throw new InvalidOperationException($"Unknown executor '{options.Executor}'. Known executors: {string.Join(", ", known.Keys)}.");
        }

        builder.Services.AddSingleton(chosen);
        var algorithms = new Algorithms.AlgorithmStore(database);
        builder.Services.AddSingleton(algorithms);
        builder.Services.AddSingleton<TrainingJobService>();
        builder.Services.AddSingleton<Algorithms.AlgorithmService>();
        builder.Services.AddSingleton<SageMakerApi>();
        builder.Services.AddSingleton<CloudWatchLogs.CloudWatchLogsApi>();
        builder.Services.AddSingleton<CloudWatch.CloudWatchApi>();
        builder.Services.AddSingleton<Sts.StsApi>();
        builder.Services.AddSingleton<Query.QueryApi>();
        builder.Services.AddSingleton<S3.S3Api>();
        Auth.CredentialFiles? credentials = null;
        if (options.CredentialsFiles.Count > 0)
        {
            credentials = new Auth.CredentialFiles(options.CredentialsFiles);
            credentials.Add(hostIdentity!.AccessKeyId, hostIdentity.Secret);
            builder.Services.AddSingleton(new Auth.SigV4Verifier(credentials, TimeProvider.System));
        }

        builder.Services.AddSingleton<AwsEndpoint>();
        var app = builder.Build();
        var endpoint = app.Services.GetRequiredService<AwsEndpoint>();
        app.Run(endpoint.HandleAsync);
        var jobs = app.Services.GetRequiredService<TrainingJobService>();
        var store = app.Services.GetRequiredService<JobStore>();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var server = new TrainyardServer(app, jobs, store) { Algorithms = app.Services.GetRequiredService<Algorithms.AlgorithmService>() };
        server.Algorithms.ResumeValidations();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        if (objectStore is null)
        {
            // Hosts reach the embedded store's S3 API on the server's port: on loopback as bound, through the
            // machine's name when the server listens on every address (hosts on other Slurm nodes).
            var host = server.Address.Host is "0.0.0.0" or "[::]" or "::" ? System.Net.Dns.GetHostName() : server.Address.Host;
            jobs.ServeStoreAt(new UriBuilder(server.Address) { Host = host }.Uri, hostIdentity);
        }
        return server;
    }

    /// <summary>Blocks until the host is asked to shut down (Ctrl-C, SIGTERM).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.WaitForShutdownAsync(_app, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await Jobs.DisposeAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        Store.Database.Dispose();
        _homeLock?.Dispose();
    }
}
