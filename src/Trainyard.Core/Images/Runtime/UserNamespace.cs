using System.Diagnostics;

using Trainyard.Interop;

namespace Trainyard.Images.Runtime;

/// <summary>
/// A user namespace whose ids 0..65535 are a job's <see cref="IdRange"/> outside. Trainyard writes
/// uid_map and gid_map itself (as root, no newuidmap): a holder process (<c>unshare --user</c>) creates
/// the namespace, the maps are written, the namespace is kept by a file descriptor, and the holder
/// goes. The descriptor is what idmapped mounts and bubblewrap's <c>--userns</c> take.
/// </summary>
public sealed class UserNamespace : IDisposable
{
    private int _fd;

    private UserNamespace(int fd, IdRange ids)
    {
        _fd = fd;
        Ids = ids;
    }

    public IdRange Ids { get; }

    /// <summary>The namespace's descriptor in this process (close-on-exec).</summary>
    public int Fd => _fd;

    public static async Task<UserNamespace> CreateAsync(IdRange ids, CancellationToken cancellationToken)
    {
        var unshare = File.Exists("/usr/bin/unshare") ? "/usr/bin/unshare" : "unshare";
        var psi = new ProcessStartInfo(unshare) { UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--user", "--", "sleep", "600" })
        {
            psi.ArgumentList.Add(a);
        }

        using var holder = Process.Start(psi) ?? throw new IOException("cannot start unshare");
        try
        {
            var own = ReadLink("/proc/self/ns/user");
            var nsPath = $"/proc/{holder.Id}/ns/user";
            var deadline = Stopwatch.StartNew();
            while (ReadLink(nsPath) is var current && (current is null || current == own))
            {
                if (holder.HasExited)
                {
                    throw new IOException($"unshare --user failed: {(await holder.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)).Trim()}");
                }

                if (deadline.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new IOException("unshare --user did not create a user namespace within 10 s");
                }

                await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            }

            // One write(2) each, as the kernel requires; gid_map first needs no setgroups change as root.
            await File.WriteAllTextAsync($"/proc/{holder.Id}/uid_map", ids.MapLine, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync($"/proc/{holder.Id}/gid_map", ids.MapLine, cancellationToken).ConfigureAwait(false);
            var fd = Libc.OpenAt(Libc.AT_FDCWD, nsPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (fd < 0)
            {
                throw new IOException($"cannot open {nsPath}: {Libc.Describe(Libc.LastError)}");
            }

            return new UserNamespace(fd, ids);
        }
        finally
        {
            try
            {
                holder.Kill();
            }
            catch (InvalidOperationException)
            {
                // gone already
            }
        }
    }

    /// <summary>
    /// A duplicate of the descriptor that a child process inherits (not close-on-exec), for bubblewrap's
    /// <c>--userns</c> and nsenter; close it once the child has started.
    /// </summary>
    public int InheritableDuplicate()
    {
        var fd = Libc.Dup(_fd);
        if (fd < 0)
        {
            throw new IOException("dup failed: " + Libc.Describe(Libc.LastError));
        }

        return fd;
    }

    private static string? ReadLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            Libc.Close(fd);
        }
    }
}
