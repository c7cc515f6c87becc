using System.Globalization;

namespace Trainyard.Supervision;

/// <summary>
/// Fault injection for chaos tests, off unless <c>TRAINYARD_FAULTS</c> is set: a comma-separated list of
/// <c>point=probability</c> (e.g. <c>slurm.poll=0.3,validation=0.5</c>). At a named point in a supervised
/// loop, <see cref="Maybe"/> throws <see cref="InjectedFaultException"/> with that probability — an error
/// the loop did not expect, as an IO error or a bug would be.
/// </summary>
public static class Faults
{
    private static readonly Dictionary<string, double> Points = Parse(Environment.GetEnvironmentVariable("TRAINYARD_FAULTS"));

    public static void Maybe(string point)
    {
        if (Points.Count > 0 && Points.TryGetValue(point, out var probability) && Random.Shared.NextDouble() < probability)
        {
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
