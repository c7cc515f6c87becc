using System.Text.Json;
using Trainyard.Jobs;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatch;

/// <summary>
/// The metric series the job runners keep (<c>&lt;home&gt;/jobs/&lt;job&gt;/metrics.jsonl</c>, one point per
/// line), read for CloudWatch: namespace <c>/aws/sagemaker/TrainingJobs</c>, one metric per
/// MetricDefinitions name, under the two dimension sets SageMaker publishes — <c>{TrainingJobName: job}</c>
/// and <c>{Host: job/algo-N}</c>.
/// </summary>
public sealed class TrainingJobMetrics(TrainyardOptions options)
{
    public const string Namespace = "/aws/sagemaker/TrainingJobs";

    /// <summary>Every point of a job's series; a line still being written is skipped.</summary>
    public static List<MetricPoint> Read(string jobDirectory)
    {
        var points = new List<MetricPoint>();
        var path = JobRunner.MetricSeriesPath(jobDirectory);
        if (!File.Exists(path))
        {
            return points;
        }

        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        while (reader.ReadLine() is { } line)
        {
            try
            {
                if (JsonSerializer.Deserialize(line, TrainyardJsonContext.Default.MetricPoint) is { } point)
                {
                    points.Add(point);
                }
            }
            catch (JsonException)
            {
                // a line still being written
            }
        }

        return points;
    }

    /// <summary>The points of one metric under one dimension set; none when the set is not one SageMaker publishes.</summary>
    public List<MetricPoint> Points(string metricName, IReadOnlyList<Dimension> dimensions)
    {
        // CloudWatch matches dimension sets exactly: one dimension, TrainingJobName or Host.
        if (dimensions is not [var dimension])
        {
            return [];
        }

        string job;
        string? host = null;
        switch (dimension.Name)
        {
            case "TrainingJobName":
                job = dimension.Value;
                break;
            case "Host" when dimension.Value.Split('/') is [var j, var h]:
                job = j;
                host = h;
                break;
            default:
                return [];
        }

        if (ServiceModel.Instance["TrainingJobName"].Regex?.IsMatch(job) != true || !Directory.Exists(options.JobDirectory(job)))
        {
            return [];
        }

        return Read(options.JobDirectory(job)).Where(p => p.MetricName == metricName && (host is null || p.Host == host)).ToList();
    }

    /// <summary>Every (job, host, metric) with at least one point, jobs in name order.</summary>
    public IEnumerable<(string Job, IReadOnlyList<MetricPoint> Points)> All(string? jobPrefix)
    {
        var jobs = Path.Combine(options.Home, "jobs");
        if (!Directory.Exists(jobs))
        {
            yield break;
        }

        foreach (var dir in Directory.EnumerateDirectories(jobs).Order(StringComparer.Ordinal))
        {
            var job = Path.GetFileName(dir);
            if (jobPrefix is not null && job != jobPrefix)
            {
                continue;
            }

            var points = Read(dir);
            if (points.Count > 0)
            {
                yield return (job, points);
            }
        }
    }
}
