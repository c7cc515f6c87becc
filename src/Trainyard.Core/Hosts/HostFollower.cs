using System.Text;
using System.Text.Json;

namespace Trainyard.Hosts;

/// <summary>
/// The server's side of a host that runs elsewhere: follows the host's events file and log file (on the
/// shared file system) and replays them into <see cref="IHostEvents"/>, until the host reports its result.
/// How far it has read — up to the last whole line consumed — and what it learnt (node, stop, result) are
/// kept beside the events file (<c>algo-N.follower.json</c>) after every batch, once the events have been
/// made durable (<see cref="IHostEvents.Flush"/>): a follower created after a server restart goes on from
/// there, so transitions and metric points are not replayed. (A crash between the flush and the write
/// replays at most that one batch.)
/// </summary>
public sealed class HostFollower(HostPlan plan, IHostEvents events)
{
    private long _eventsOffset;
    private long _logOffset;
    private bool _resumed;
    private readonly StringBuilder _partialEvent = new();
    private readonly StringBuilder _partialLog = new();

    /// <summary>The host's result once it has reported one.</summary>
    public HostResult? Result { get; private set; }

    /// <summary>The host acknowledged a stop request.</summary>
    public bool SawStop { get; private set; }

    /// <summary>The node the host reported it runs on.</summary>
    public string? Node { get; private set; }

    /// <summary>When the host last showed a sign of life (an event or a log line).</summary>
    public DateTimeOffset LastSeen { get; private set; } = DateTimeOffset.UtcNow;

    private string CursorPath => Path.Combine(Path.GetDirectoryName(plan.EventsPath)!, plan.HostName + ".follower.json");

    /// <summary>Reads what is new in the files; cheap when nothing is. True when there was something.</summary>
    public bool Poll()
    {
        if (!_resumed)
        {
            Resume();
        }

        var consumed = 0;
        foreach (var line in ReadNewLines(plan.EventsPath, ref _eventsOffset, _partialEvent))
        {
            consumed++;
            HostEvent? e;
            try
            {
                e = JsonSerializer.Deserialize(line, HostsJsonContext.Default.HostEvent);
            }
            catch (JsonException)
            {
                continue;
            }

            LastSeen = DateTimeOffset.UtcNow;
            if (e?.Phase is { } phase)
            {
                events.OnPhase(plan.HostName, phase);
            }

            if (e?.ImageProgress is [var imageDone, var imageTotal, var layersDone, var layersTotal])
            {
                events.OnImageProgress(plan.HostName, new Trainyard.Images.Cache.PullProgress(imageDone, imageTotal, (int)layersDone, (int)layersTotal));
            }

            if (e?.Progress is [var done, var total, var n, var count])
            {
                events.OnProgress(plan.HostName, done, total, (int)n, (int)count);
            }

            if (e?.Stopping == true)
            {
                SawStop = true;
            }

            if (e?.Node is { } node)
            {
                Node = node;
            }

            if (e?.Result is { } result)
            {
                Result = result;
            }
        }

        foreach (var line in ReadNewLines(plan.LogPath, ref _logOffset, _partialLog))
        {
            consumed++;
            LastSeen = DateTimeOffset.UtcNow;
            events.OnLog(plan.HostName, line);
        }

        if (consumed > 0)
        {
            events.Flush();
            SaveCursor();
        }

        return consumed > 0;
    }

    // Where an earlier follower of this host (before a restart) stopped.
    private void Resume()
    {
        _resumed = true;
        FollowerCursor? cursor = null;
        try
        {
            cursor = JsonSerializer.Deserialize(File.ReadAllBytes(CursorPath), HostsJsonContext.Default.FollowerCursor);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
        }

        if (cursor is null || cursor.Version != FollowerCursor.CurrentVersion)
        {
            return;
        }

        _eventsOffset = cursor.EventsOffset;
        _logOffset = cursor.LogOffset;
        Node = cursor.Node;
        SawStop = cursor.SawStop;
        Result = cursor.Result;
    }

    private void SaveCursor()
    {
        var cursor = new FollowerCursor
        {
            EventsOffset = _eventsOffset - Encoding.UTF8.GetByteCount(_partialEvent.ToString()),
            LogOffset = _logOffset - Encoding.UTF8.GetByteCount(_partialLog.ToString()),
            Node = Node,
            SawStop = SawStop,
            Result = Result,
        };
        var temp = CursorPath + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(cursor, HostsJsonContext.Default.FollowerCursor));
        File.Move(temp, CursorPath, overwrite: true);
    }

    private static List<string> ReadNewLines(string path, ref long offset, StringBuilder partial)
    {
        var lines = new List<string>();

        // One stat per poll; the file is opened only when it has grown.
        var info = new FileInfo(path);
        if (!info.Exists || info.Length <= offset)
        {
            return lines;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (stream.Length <= offset)
        {
            return lines;
        }

        stream.Seek(offset, SeekOrigin.Begin);
        var buffer = new byte[Math.Min(stream.Length - offset, 4 << 20)];
        var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        offset += read;
        partial.Append(Encoding.UTF8.GetString(buffer, 0, read));
        var text = partial.ToString();
        var last = text.LastIndexOf('\n');
        if (last >= 0)
        {
            lines.AddRange(text[..last].Split('\n'));
            partial.Clear().Append(text[(last + 1)..]);
        }

        return lines;
    }
}

/// <summary>How far a <see cref="HostFollower"/> has consumed a host's files, and what it learnt there.</summary>
public sealed record FollowerCursor
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public long EventsOffset { get; init; }

    public long LogOffset { get; init; }

    public string? Node { get; init; }

    public bool SawStop { get; init; }

    public HostResult? Result { get; init; }
}
