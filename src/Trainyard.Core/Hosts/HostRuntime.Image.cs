using System.Globalization;
using Trainyard.Images;
using Trainyard.Images.Cache;
using Trainyard.Images.Oci;
using Trainyard.Images.Registry;
using Trainyard.Images.Runtime;

using Trainyard.Interop;

namespace Trainyard.Hosts;

/// <summary>
/// The image part of a host: pull (into the shared cache; status "Downloading the training image"),
/// the job's user namespace, the overlay root with the host's <c>/opt/ml</c> mounted into it, and
/// SageMaker's run contract for images (<c>docker run IMAGE train</c>).
/// </summary>
public sealed partial class HostRuntime
{
    private ImageHost? _image;

    // The job's user namespace is made while the host prepares and downloads (a process start of its own).
    private Task<UserNamespace>? _namespace;

    /// <summary>The image this host runs, when it runs one.</summary>
    private ImageLocation? ContainerImage => ResolvedImage.Parse(plan.ImagePath) is ResolvedImage.Container c ? c.Location : null;

    private sealed record ImageHost(CachedImage Image, OciRunConfig Config, ImageUser User, UserNamespace Namespace, ImageRoot Root, FileLock InUse) : IDisposable
    {
        public void Dispose()
        {
            Root.Dispose();
            Namespace.Dispose();
            InUse.Dispose();
        }
    }

    /// <summary>Pulls and mounts the image; null when the host can train, else how it failed.</summary>
    private async Task<HostResult?> PrepareImageAsync(ImageLocation location, bool sandboxed, CancellationToken stop)
    {
        if (!sandboxed)
        {
            return Fail($"TrainingImage {location.Display} is a container image, which runs only in a sandbox: install bubblewrap (and run Trainyard as root), or map the image to a local algorithm with --image.");
        }

        if (Libc.GetEuid() != 0)
        {
            return Fail($"TrainingImage {location.Display} is a container image: running images needs root (overlay and idmapped mounts); run Trainyard as root, or map the image to a local algorithm with --image.");
        }

        events.OnPhase(plan.HostName, HostPhase.PullingImage);
        var cache = new ImageCache(plan.ImageCache ?? throw new InvalidOperationException("the plan names no image cache"));
        var registry = new RegistryOptions { InsecureRegistries = new HashSet<string>(plan.InsecureRegistries, StringComparer.OrdinalIgnoreCase) };
        CachedImage image;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            var cached = cache.GetRef(location.ToString());
            image = cached ?? await new ImagePuller(cache, registry).PullAsync(location, refresh: false, Note, p => events.OnImageProgress(plan.HostName, p), stop).ConfigureAwait(false);
            if (cached is not null)
            {
                Note($"Using the cached image {location.Display} ({cached.ManifestDigest}).");
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return new HostResult { HostName = plan.HostName, Stopped = true };
        }
        catch (Exception e) when (e is ImagePullException or IOException or UnauthorizedAccessException)
        {
            var hint = location is ImageLocation.Registry && e.Message.StartsWith("cannot reach the registry", StringComparison.Ordinal)
                ? $" (to run it from elsewhere, map it: trainyard serve --image {location.Display}=/path/to/algorithm or =another-registry/repo:tag)"
                : "";
            return Fail($"cannot pull the training image {location.Display}: {e.Message}{hint}");
        }

        FileLock? inUse = null;
        UserNamespace? userNamespace = null;
        ImageRoot? root = null;
        try
        {
            // Under the cache's lock (shared, as pulls hold it) a prune either finished before — and the check below
            // sees what it removed — or starts after, and then sees this job's in-use lock.
            using (await FileLock.AcquireAsync(cache.GcLockPath, exclusive: false, stop).ConfigureAwait(false))
            {
                inUse = await FileLock.AcquireAsync(cache.InUseLockPath(image.ManifestDigest), exclusive: false, stop).ConfigureAwait(false);
            }

            if (!image.Layers.All(cache.HasLayer))
            {
                // A prune ran between the look-up and the lock: pull again, now that the lock keeps what arrives.
                Note($"The cached image {location.Display} was pruned while this job started; pulling it again.");
                image = await new ImagePuller(cache, registry).PullAsync(location, refresh: false, Note, p => events.OnImageProgress(plan.HostName, p), stop).ConfigureAwait(false);
                inUse.Dispose();
                inUse = await FileLock.AcquireAsync(cache.InUseLockPath(image.ManifestDigest), exclusive: false, stop).ConfigureAwait(false);
            }

            var config = cache.Config(image).Config ?? new OciRunConfig();
            var ids = new IdRange(plan.IdRangeStart);
            var made = _namespace ?? UserNamespace.CreateAsync(ids, stop);
            _namespace = null;
            userNamespace = await made.ConfigureAwait(false);
            var upper = Path.Combine(Path.GetDirectoryName(plan.HostDirectory)!, plan.HostName + ".overlay");
            ImageCache.DeleteTree(upper);
            Directory.CreateDirectory(upper);
            root = ImageRoot.Create(cache.LayerRoots(image), userNamespace, upper, ShortName());
            var user = ImageUser.Resolve(config.User, root.ReadFile);

            // What the algorithm writes must be writable by it: its ids are the job's range outside.
            var uid = (int)ids.Outside(user.Uid);
            var gid = (int)ids.Outside(user.Gid);
            foreach (var dir in new[] { "model", "output", "checkpoints" })
            {
                ChownTree(Path.Combine(plan.HostDirectory, dir), uid, gid);
            }

            var rootOwner = (int)ids.Outside(0);
            root.Bind(Path.Combine(plan.HostDirectory, "input"), "/opt/ml/input", directory: true, rootOwner);
            root.Bind(Path.Combine(plan.HostDirectory, "model"), "/opt/ml/model", directory: true, rootOwner);
            root.Bind(Path.Combine(plan.HostDirectory, "output"), "/opt/ml/output", directory: true, rootOwner);
            root.Bind(plan.CheckpointDirectory, plan.CheckpointLocalPath ?? "/opt/ml/checkpoints", directory: true, rootOwner);
            root.Bind(Path.GetFullPath(Path.Combine(plan.HostDirectory, "..", plan.HostName + ".hosts")), "/etc/hosts", directory: false, rootOwner);
            if (File.Exists("/etc/resolv.conf"))
            {
                root.Bind("/etc/resolv.conf", "/etc/resolv.conf", directory: false, rootOwner);
            }

            _image = new ImageHost(image, config, user, userNamespace, root, inUse);
            Note(string.Create(CultureInfo.InvariantCulture,
                $"The image {location.Display} is the root of {plan.HostName} ({image.Layers.Count} layers, ready in {clock.Elapsed.TotalSeconds:F2} s); it runs as uid {user.Uid} gid {user.Gid} in a user namespace mapped to {ids.Start}+."));
            return null;
        }
        catch (Exception e) when (e is ImagePullException or IOException or UnauthorizedAccessException)
        {
            root?.Dispose();
            userNamespace?.Dispose();
            inUse?.Dispose();
            return Fail($"cannot run the training image {location.Display}: {e.Message}");
        }
        catch
        {
            root?.Dispose();
            userNamespace?.Dispose();
            inUse?.Dispose();
            throw;
        }
    }

    /// <summary>SageMaker's run contract for an image: its Entrypoint with <c>train</c> as the command, unless ContainerEntrypoint/ContainerArguments say otherwise.</summary>
    public static List<string> ImageArgv(OciRunConfig config, IReadOnlyList<string>? containerEntrypoint, IReadOnlyList<string>? containerArguments)
    {
        var entrypoint = containerEntrypoint is { Count: > 0 } e ? e.ToList() : config.Entrypoint ?? [];
        var arguments = containerArguments is { Count: > 0 } a ? a.ToList() : containerEntrypoint is { Count: > 0 } ? [] : ["train"];
        return [.. entrypoint, .. arguments];
    }

    private SandboxSpec ImageSpec(ImageHost image)
    {
        var environment = new List<KeyValuePair<string, string>>();
        var path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        foreach (var entry in image.Config.Env ?? [])
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            if (entry[..eq] == "PATH")
            {
                path = entry[(eq + 1)..];
            }
            else
            {
                environment.Add(new(entry[..eq], entry[(eq + 1)..]));
            }
        }

        var home = image.Config.Env?.FirstOrDefault(e => e.StartsWith("HOME=", StringComparison.Ordinal))?["HOME=".Length..] ?? image.User.Home;
        return new SandboxSpec
        {
            Argv = ImageArgv(image.Config, plan.ContainerEntrypoint, plan.ContainerArguments),
            Mounts =
            [
                new SandboxMount.Bind(image.Root.Path, "/", ReadOnly: false),
                new SandboxMount.Dev("/dev"),
                new SandboxMount.Proc("/proc"),
                new SandboxMount.Tmpfs("/tmp"),
            ],
            Hostname = plan.HostName,
            WorkingDirectory = image.Config.WorkingDir is { Length: > 0 } wd ? wd : "/",
            PathVariable = path,
            Home = home,
            UserNamespaceFd = image.Namespace.Fd,
            Uid = image.User.Uid,
            Gid = image.User.Gid,
            BaseEnvironment = environment,
        };
    }

    /// <summary>Starts making the job's user namespace early, when this host will run an image.</summary>
    private void PrepareUserNamespaceEarly(bool sandboxed)
    {
        if (ContainerImage is not null && sandboxed && Libc.GetEuid() == 0)
        {
            _namespace = UserNamespace.CreateAsync(new IdRange(plan.IdRangeStart), CancellationToken.None);
        }
    }

    private void DisposeImage()
    {
        _image?.Dispose();
        _image = null;
        if (Interlocked.Exchange(ref _namespace, null) is { } pending)
        {
            pending.ContinueWith(t => t.Result.Dispose(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
        }
    }

    private HostResult Fail(string message)
    {
        Note("ClientError: " + message);
        return new HostResult { HostName = plan.HostName, Error = "ClientError: " + message };
    }

    /// <summary>A short name for this host's root under /run/trainyard, unique to its host directory.</summary>
    private string ShortName() =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(plan.HostDirectory)))[..12];

    private static void ChownTree(string path, int uid, int gid)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        _ = Libc.FchownAt(Libc.AT_FDCWD, path, uid, gid, Libc.AT_SYMLINK_NOFOLLOW);
        foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            _ = Libc.FchownAt(Libc.AT_FDCWD, entry, uid, gid, Libc.AT_SYMLINK_NOFOLLOW);
        }
    }
}
