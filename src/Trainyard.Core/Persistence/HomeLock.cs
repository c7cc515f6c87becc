using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Trainyard.Interop;

namespace Trainyard.Persistence;

/// <summary>Who holds a home: the process, what it is (<c>serve</c> or <c>run</c>), where it answers, since when.</summary>
public sealed record HomeHolder
{
    [JsonPropertyName("pid")]
    public int Pid { get; init; }

    [JsonPropertyName("owner")]
    public string Owner { get; init; } = "";

    [JsonPropertyName("endpoint")]
    public string? Endpoint { get; init; }

    [JsonPropertyName("since")]
    public DateTimeOffset Since { get; init; }

    public override string ToString() =>
        $"trainyard {Owner} (PID {Pid.ToString(CultureInfo.InvariantCulture)}{(Endpoint is null ? "" : ", serving at " + Endpoint)}, since {Since.ToLocalTime():yyyy-MM-dd HH:mm:ss})";
}

/// <summary>The home is held by another process; <see cref="Holder"/> says which (null when it could not be read).</summary>
public sealed class HomeLockedException(string home, HomeHolder? holder)
    : Exception($"The home {home} is in use by {(holder?.ToString() ?? "another trainyard process")}.")
{
    public string Home { get; } = home;

    public HomeHolder? Holder { get; } = holder;
}

/// <summary>
/// One owner per home: <c>serve</c> and <c>run</c> take an exclusive <c>flock</c> on <c>&lt;home&gt;/lock</c>
/// before they touch the database, the jobs or their mounts, and hold it while they live (the kernel
/// drops it when the process dies, however it dies). Beside it, <c>&lt;home&gt;/lock.json</c> names the
/// holder — PID, kind, endpoint — so that a second process can say who is there, and <c>run</c> can send its
/// job to the server that holds the home. The lock's descriptor is close-on-exec: hosts the server starts
/// never inherit it.
/// </summary>
public sealed class HomeLock : IDisposable
{
    private readonly string _home;
    private readonly HomeHolder _holder;
    private int _fd;

    private HomeLock(string home, int fd, HomeHolder holder)
    {
        _home = home;
        _fd = fd;
        _holder = holder;
    }

    private static string LockPath(string home) => Path.Combine(home, "lock");

    private static string HolderPath(string home) => Path.Combine(home, "lock.json");

    /// <summary>Takes the home for <paramref name="owner"/> (<c>serve</c>, <c>run</c>).</summary>
    /// <exception cref="HomeLockedException">Another process holds it.</exception>
    public static HomeLock Acquire(string home, string owner)
    {
        Directory.CreateDirectory(home);
        var fd = Libc.Open(LockPath(home), Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0b110_100_100);
        if (fd < 0)
        {
            throw new IOException($"Cannot open {LockPath(home)}: {Libc.Describe(Libc.LastError)}.");
        }

        if (Libc.Flock(fd, Libc.LOCK_EX | Libc.LOCK_NB) != 0)
        {
            var errno = Libc.LastError;
            Libc.Close(fd);
            if (errno == Libc.EAGAIN)
            {
                throw new HomeLockedException(home, ReadHolder(home));
            }

            throw new IOException($"Cannot lock {LockPath(home)}: {Libc.Describe(errno)}.");
        }

        var holder = new HomeHolder { Pid = Environment.ProcessId, Owner = owner, Since = DateTimeOffset.UtcNow };
        var homeLock = new HomeLock(home, fd, holder);
        homeLock.Write(holder);
        return homeLock;
    }

    /// <summary>Says where the holder answers, once it listens.</summary>
    public void Publish(Uri endpoint) => Write(_holder with { Endpoint = endpoint.ToString().TrimEnd('/') });

    private void Write(HomeHolder holder)
    {
        var temp = HolderPath(_home) + "." + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(holder, PersistenceJsonContext.Default.HomeHolder));
        File.Move(temp, HolderPath(_home), overwrite: true);
    }

    /// <summary>Who holds <paramref name="home"/> as its holder last wrote it; null when nobody has said.</summary>
    public static HomeHolder? ReadHolder(string home)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(HolderPath(home)), PersistenceJsonContext.Default.HomeHolder);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            // The holder file goes first: whoever takes the home next writes its own.
            File.Delete(HolderPath(_home));
            Libc.Close(fd);
        }
    }
}
