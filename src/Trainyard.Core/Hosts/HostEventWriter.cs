using System.Text.Json;

namespace Trainyard.Hosts;

/// <summary>
/// The events of a host runtime that runs outside the server (a Slurm task): phases, progress and the
/// result go to the host's events file, which the server follows. Log lines go to the host's log file
/// (the runtime writes it itself), so they are not repeated here.
/// </summary>
public sealed class HostEventWriter : IHostEvents, IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();
    private long _lastProgress;

    public HostEventWriter(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { AutoFlush = true };
    }

    public void OnPhase(string host, HostPhase phase) => Write(new HostEvent { Time = DateTimeOffset.UtcNow, Phase = phase });

    public void OnLog(string host, string line)
    {
    }

    public void OnProgress(string host, long bytesDone, long bytesTotal, int objectsDone, int objectsTotal)
    {
        var now = Environment.TickCount64;
        if (objectsDone != objectsTotal && now - Interlocked.Read(ref _lastProgress) < 500)
        {
            return;
        }

        Interlocked.Exchange(ref _lastProgress, now);
        Write(new HostEvent { Time = DateTimeOffset.UtcNow, Progress = [bytesDone, bytesTotal, objectsDone, objectsTotal] });
    }

    public void OnImageProgress(string host, Trainyard.Images.Cache.PullProgress progress)
    {
        var now = Environment.TickCount64;
        if (progress.LayersDone != progress.LayersTotal && now - Interlocked.Read(ref _lastProgress) < 500)
        {
            return;
        }

        Interlocked.Exchange(ref _lastProgress, now);
        Write(new HostEvent { Time = DateTimeOffset.UtcNow, ImageProgress = [progress.BytesDone, progress.BytesTotal, progress.LayersDone, progress.LayersTotal] });
    }

    public void OnNode(string node) => Write(new HostEvent { Time = DateTimeOffset.UtcNow, Node = node });

    public void OnStopping() => Write(new HostEvent { Time = DateTimeOffset.UtcNow, Stopping = true });

    public void OnResult(HostResult result) => Write(new HostEvent { Time = DateTimeOffset.UtcNow, Result = result });

    private void Write(HostEvent e)
    {
        var line = JsonSerializer.Serialize(e, HostsJsonContext.Default.HostEvent);
        lock (_gate)
        {
            _writer.WriteLine(line);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _writer.Dispose();
        }
    }
}
