using Trainyard.Tests.Support;

namespace Trainyard.Tests.Cli;

public sealed class ServeCommandTests
{
    /// <summary>
    /// `trainyard serve` started in a directory that holds its home (as `cd ~ && trainyard serve` does with
    /// the default ~/.trainyard) must not watch that tree: the web host's defaults put an inotify watch on
    /// every directory under the current one, and every write of a job's download then woke a watcher thread.
    /// </summary>
    [Fact]
    public async Task Serve_StartedAboveItsHome_WatchesNoDirectory()
    {
        using var cwd = new TempDirectory("serve-cwd");
        cwd.Write("project/src/train.py", "print('hi')\n");
        var port = ServeProcess.FreePort();
        using var serve = ServeProcess.StartIn(cwd.Path, cwd["home"], port);
        try
        {
            await Poll.UntilAsync(() => ServeProcess.CanConnect(port), TimeSpan.FromSeconds(30), "trainyard serve to listen");
            Assert.True(Directory.Exists(cwd["home"]), "the server created its home under the directory it was started in");
            Assert.Equal(0, InotifyWatches(serve.Id));
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
            await serve.WaitForExitAsync();
        }
    }

    /// <summary>How many inotify watches the process holds, from /proc/PID/fdinfo (one "inotify wd:" line each).</summary>
    private static int InotifyWatches(int pid)
    {
        var watches = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed while we looked
            }

            if (target == "anon_inode:inotify")
            {
                watches += File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
            }
        }

        return watches;
    }
}
