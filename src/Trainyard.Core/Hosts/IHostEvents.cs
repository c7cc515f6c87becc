namespace Trainyard.Hosts;

/// <summary>What a host runtime reports while it runs: phases, log lines, transfer progress.</summary>
public interface IHostEvents
{
    void OnPhase(string host, HostPhase phase);

    void OnLog(string host, string line);

    void OnProgress(string host, long bytesDone, long bytesTotal, int objectsDone, int objectsTotal);

    /// <summary>The training image is being pulled.</summary>
    void OnImageProgress(string host, Trainyard.Images.Cache.PullProgress progress)
    {
    }

    /// <summary>
    /// Makes what the events so far produced durable (the metric series): a follower calls it before it
    /// records how far it has read, so that a restart neither replays nor loses what was consumed.
    /// </summary>
    void Flush()
    {
    }

    /// <summary>The executor placed the job's hosts; <paramref name="state"/> finds them again after a restart (a Slurm job id).</summary>
    void OnPlaced(string state)
    {
    }
}
