using System.Text.RegularExpressions;

namespace Trainyard.Logs;

/// <summary>
/// The log group <c>/aws/sagemaker/TrainingJobs</c> as SageMaker names it: one stream per host and attempt,
/// <c>&lt;job&gt;/algo-N-&lt;epoch&gt;</c>, stored by the host runtimes in each job's directory
/// (<c>&lt;home&gt;/jobs/&lt;job&gt;/logs/algo-N-&lt;epoch&gt;.log</c> and its index). Read-only.
/// </summary>
public sealed partial class TrainingJobLogGroup(string jobsDirectory)
{
    public const string Name = "/aws/sagemaker/TrainingJobs";

    public string JobsDirectory { get; } = jobsDirectory;

    /// <summary>The text log of a stream, or null when the name is not one of this group's stream names.</summary>
    public string? LogPathOf(string streamName)
    {
        var match = StreamName().Match(streamName);
        return match.Success ? Path.Combine(JobsDirectory, match.Groups[1].Value, "logs", match.Groups[2].Value + ".log") : null;
    }

    /// <summary>Whether the stream exists (its index has been created).</summary>
    public bool Exists(string streamName) => LogPathOf(streamName) is { } path && File.Exists(LogIndex.PathOf(path));

    /// <summary>The names of the streams that start with <paramref name="prefix"/>, in ordinal order.</summary>
    public List<string> StreamNames(string? prefix)
    {
        prefix ??= "";
        var slash = prefix.IndexOf('/', StringComparison.Ordinal);
        var jobPrefix = slash >= 0 ? prefix[..slash] : prefix;
        var names = new List<string>();
        if (!Directory.Exists(JobsDirectory))
        {
            return names;
        }

        IEnumerable<string> jobs = slash >= 0
            ? (JobName().IsMatch(jobPrefix) && Directory.Exists(Path.Combine(JobsDirectory, jobPrefix)) ? [jobPrefix] : [])
            : Directory.EnumerateDirectories(JobsDirectory).Select(d => Path.GetFileName(d)!).Where(j => j.StartsWith(jobPrefix, StringComparison.Ordinal));
        foreach (var job in jobs)
        {
            var logs = Path.Combine(JobsDirectory, job, "logs");
            if (!Directory.Exists(logs))
            {
                continue;
            }

            foreach (var index in Directory.EnumerateFiles(logs, "*.idx"))
            {
                var name = $"{job}/{Path.GetFileNameWithoutExtension(index)}";
                if (name.StartsWith(prefix, StringComparison.Ordinal) && StreamName().IsMatch(name))
                {
                    names.Add(name);
                }
            }
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <summary>The bytes of every stream's text log (CloudWatch's <c>storedBytes</c> of the group).</summary>
    public long StoredBytes()
    {
        if (!Directory.Exists(JobsDirectory))
        {
            return 0;
        }

        long total = 0;
        foreach (var job in Directory.EnumerateDirectories(JobsDirectory))
        {
            var logs = Path.Combine(job, "logs");
            if (Directory.Exists(logs))
            {
                total += new DirectoryInfo(logs).EnumerateFiles("*.log").Sum(f => f.Length);
            }
        }

        return total;
    }

    /// <summary>A stream's description; null when it does not exist.</summary>
    public LogStreamInfo? Describe(string streamName)
    {
        if (LogPathOf(streamName) is not { } path)
        {
            return null;
        }

        using var reader = LogStreamReader.Open(path);
        if (reader is null)
        {
            return null;
        }

        var created = new DateTimeOffset(File.GetCreationTimeUtc(LogIndex.PathOf(path))).ToUnixTimeMilliseconds();
        if (reader.Count == 0)
        {
            return new LogStreamInfo(streamName, created, null, null, null);
        }

        var first = reader.Record(0);
        var last = reader.Record(reader.Count - 1);
        return new LogStreamInfo(streamName, Math.Min(created, first.Timestamp), first.Timestamp, last.Timestamp, last.IngestionTime);
    }

    // Job names as SageMaker allows them; host streams as Trainyard writes them.
    [GeneratedRegex("^([a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/(algo-[0-9]{1,4}-[0-9]{1,12})$", RegexOptions.CultureInvariant)]
    private static partial Regex StreamName();

    [GeneratedRegex("^[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex JobName();
}
