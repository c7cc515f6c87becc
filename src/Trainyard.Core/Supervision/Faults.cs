using System.Globalization;

namespace Trainyard.Supervision;

/// <summary>
/// Fault injection for chaos tests, off unless <c>TRAINYARD_FAULTS</c> is set: a comma-separated list of
/// <c>point=probability</c> (e.g. <c>slurm.poll=0.3,validation=0.5</c>; <c>slurm.poll/JOB</c> for one job's monitor). At a named point in a supervised
/// loop, <see cref="Maybe"/> throws <see cref="InjectedFaultException"/> with that probability — an error
/// the loop did not expect, as an IO error or a bug would be.
/// </summary>
public static class Faults
{
    private static volatile Dictionary<string, double> _points = Parse(Environment.GetEnvironmentVariable("TRAINYARD_FAULTS"));

    /// <summary>Replaces the fault points (the same syntax as <c>TRAINYARD_FAULTS</c>; null turns them off): for tests in one process.</summary>
    public static void Configure(string? spec) => _points = Parse(spec);

    /// <summary>Sets one fault point, leaving the others (tests running at once each set their own); a probability of 0 removes it.</summary>
    public static void Set(string point, double probability)
    {
        lock (Counts)
        {
            var points = new Dictionary<string, double>(_points, StringComparer.Ordinal);
            if (probability > 0)
            {
                points[point] = probability;
            }
            else
            {
                points.Remove(point);
            }

            _points = points;
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> Counts = new(StringComparer.Ordinal);

    /// <summary>How many faults were injected at <paramref name="point"/> in this process.</summary>
    public static int Injected(string point) => Counts.GetValueOrDefault(point);

    public static void Maybe(string point)
    {
        var points = _points;
        if (points.Count > 0 && points.TryGetValue(point, out var probability) && Random.Shared.NextDouble() < probability)
        {
            Counts.AddOrUpdate(point, 1, (_, n) => n + 1);
            throw new InjectedFaultException(point);
        }
    }

    private static Dictionary<string, double> Parse(string? spec)
    {
        var points = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var part in (spec ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var p))
            {
                points[part[..eq]] = p;
            }
        }

        return points;
    }
}
