using System.Globalization;
using System.Text;
using System.Xml;
using Microsoft.AspNetCore.Http;
using Trainyard.Api.Query;
using Trainyard.Model;

namespace Trainyard.Api.CloudWatch;

/// <summary>
/// CloudWatch metrics over the training jobs' metric series (query protocol): GetMetricStatistics —
/// Average, Minimum, Maximum, Sum, SampleCount and pNN percentiles, one datapoint per Period with data —
/// and ListMetrics. Requests are checked against CloudWatch's service model.
/// </summary>
public sealed class CloudWatchApi(TrainyardOptions options)
{
    public const string XmlNamespace = "http://monitoring.amazonaws.com/doc/2010-08-01/";

    private const int MaxDatapoints = 1440;
    private const int ListPage = 500;

    private static readonly Lazy<ServiceModel> LazyModel = new(() => ServiceModel.Load("cloudwatch-api.json"));

    private readonly TrainingJobMetrics _metrics = new(options);

    public static ServiceModel Model => LazyModel.Value;

    public async Task HandleAsync(QueryRequest request, HttpResponse response, string requestId)
    {
        switch (request.Action)
        {
            case "GetMetricStatistics":
            {
                var input = QueryRequest.Read(request.ToJson(Model, "GetMetricStatisticsInput"), Model, "GetMetricStatisticsInput", CloudWatchJsonContext.Default.GetMetricStatisticsInput);
                var datapoints = GetMetricStatistics(input);
                await QueryProtocol.WriteAsync(response, XmlNamespace, request.Action, requestId, xml =>
                {
                    xml.WriteElementString("Label", XmlNamespace, input.MetricName);
                    xml.WriteStartElement("Datapoints", XmlNamespace);
                    foreach (var (time, values) in datapoints)
                    {
                        xml.WriteStartElement("member", XmlNamespace);
                        xml.WriteElementString("Timestamp", XmlNamespace, QueryProtocol.Timestamp(time));
                        foreach (var (statistic, value) in values.Where(v => !v.Key.StartsWith('p')))
                        {
                            xml.WriteElementString(statistic, XmlNamespace, value.ToString("R", CultureInfo.InvariantCulture));
                        }

                        xml.WriteElementString("Unit", XmlNamespace, "None");
                        if (values.Any(v => v.Key.StartsWith('p')))
                        {
                            xml.WriteStartElement("ExtendedStatistics", XmlNamespace);
                            foreach (var (statistic, value) in values.Where(v => v.Key.StartsWith('p')))
                            {
                                xml.WriteStartElement("entry", XmlNamespace);
                                xml.WriteElementString("key", XmlNamespace, statistic);
                                xml.WriteElementString("value", XmlNamespace, value.ToString("R", CultureInfo.InvariantCulture));
                                xml.WriteEndElement();
                            }

                            xml.WriteEndElement();
                        }

                        xml.WriteEndElement();
                    }

                    xml.WriteEndElement();
                }).ConfigureAwait(false);
                break;
            }

            case "ListMetrics":
            {
                var input = QueryRequest.Read(request.ToJson(Model, "ListMetricsInput"), Model, "ListMetricsInput", CloudWatchJsonContext.Default.ListMetricsInput);
                var (metrics, next) = ListMetrics(input);
                await QueryProtocol.WriteAsync(response, XmlNamespace, request.Action, requestId, xml =>
                {
                    xml.WriteStartElement("Metrics", XmlNamespace);
                    foreach (var (name, dimension) in metrics)
                    {
                        xml.WriteStartElement("member", XmlNamespace);
                        xml.WriteElementString("Namespace", XmlNamespace, TrainingJobMetrics.Namespace);
                        xml.WriteElementString("MetricName", XmlNamespace, name);
                        xml.WriteStartElement("Dimensions", XmlNamespace);
                        xml.WriteStartElement("member", XmlNamespace);
                        xml.WriteElementString("Name", XmlNamespace, dimension.Name);
                        xml.WriteElementString("Value", XmlNamespace, dimension.Value);
                        xml.WriteEndElement();
                        xml.WriteEndElement();
                        xml.WriteEndElement();
                    }

                    xml.WriteEndElement();
                    if (next is not null)
                    {
                        xml.WriteElementString("NextToken", XmlNamespace, next);
                    }
                }).ConfigureAwait(false);
                break;
            }

            default:
                throw new ApiException("InvalidAction", 400, $"The action {request.Action} is not valid for this web service.");
        }
    }

    private List<(DateTimeOffset Time, List<KeyValuePair<string, double>> Values)> GetMetricStatistics(GetMetricStatisticsInput input)
    {
        var statistics = input.Statistics ?? [];
        var extended = input.ExtendedStatistics ?? [];
        if (statistics.Count == 0 && extended.Count == 0)
        {
            throw new ApiException("InvalidParameterCombination", 400, "Must specify either Statistics or ExtendedStatistics");
        }

        var percentiles = new List<(string Name, double Fraction)>();
        foreach (var name in extended)
        {
            if (name.Length < 2 || name[0] != 'p' || !double.TryParse(name.AsSpan(1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var p) || p < 0 || p > 100)
            {
                throw new ApiException("InvalidParameterValue", 400, $"The value {name} for parameter ExtendedStatistics is not supported: Trainyard computes percentiles, p0 to p100.");
            }

            percentiles.Add((name, p / 100));
        }

        if (input.Period is not (1 or 5 or 10 or 30) && input.Period % 60 != 0)
        {
            throw new ApiException("InvalidParameterValue", 400, "The parameter Period must be 1, 5, 10, 30, or a multiple of 60.");
        }

        if (input.StartTime >= input.EndTime)
        {
            throw new ApiException("InvalidParameterValue", 400, "The parameter StartTime must be less than the parameter EndTime.");
        }

        var period = TimeSpan.FromSeconds(input.Period);
        var start = Align(input.StartTime, period);
        var requested = (long)Math.Ceiling((input.EndTime - start) / period);
        if (requested > MaxDatapoints)
        {
            throw new ApiException("InvalidParameterCombination", 400,
                $"You have requested up to {requested.ToString("N0", CultureInfo.InvariantCulture)} datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.");
        }

        if (input.Namespace != TrainingJobMetrics.Namespace || (input.Unit is not null && input.Unit != "None"))
        {
            return [];
        }

        var result = new List<(DateTimeOffset, List<KeyValuePair<string, double>>)>();
        var buckets = _metrics.Points(input.MetricName, input.Dimensions ?? [])
            .Where(p => p.Timestamp >= start && p.Timestamp < input.EndTime)
            .GroupBy(p => Align(p.Timestamp, period))
            .OrderBy(g => g.Key);
        foreach (var bucket in buckets)
        {
            var values = bucket.Select(p => p.Value).ToList();
            var stats = new List<KeyValuePair<string, double>>();
            foreach (var statistic in statistics.Distinct(StringComparer.Ordinal))
            {
                stats.Add(new(statistic, statistic switch
                {
                    "Average" => values.Average(),
                    "Minimum" => values.Min(),
                    "Maximum" => values.Max(),
                    "Sum" => values.Sum(),
                    _ => values.Count,
                }));
            }

            if (percentiles.Count > 0)
            {
                values.Sort();
                foreach (var (name, fraction) in percentiles)
                {
                    // Nearest rank.
                    var rank = (int)Math.Ceiling(fraction * values.Count);
                    stats.Add(new(name, values[Math.Clamp(rank - 1, 0, values.Count - 1)]));
                }
            }

            result.Add((bucket.Key, stats));
        }

        return result;
    }

    private (List<(string Name, Dimension Dimension)> Metrics, string? Next) ListMetrics(ListMetricsInput input)
    {
        if (input.Namespace is not null && input.Namespace != TrainingJobMetrics.Namespace)
        {
            return ([], null);
        }

        var filters = input.Dimensions ?? [];
        var jobFilter = filters.FirstOrDefault(f => f.Name == "TrainingJobName")?.Value
            ?? filters.FirstOrDefault(f => f.Name == "Host")?.Value?.Split('/')[0];
        var recent = input.RecentlyActive == "PT3H" ? DateTimeOffset.UtcNow.AddHours(-3) : DateTimeOffset.MinValue;
        var all = new List<(string Key, string Name, Dimension Dimension)>();
        foreach (var (job, points) in _metrics.All(jobFilter))
        {
            foreach (var metric in points.Where(p => p.Timestamp >= recent).GroupBy(p => p.MetricName))
            {
                if (input.MetricName is not null && metric.Key != input.MetricName)
                {
                    continue;
                }

                var sets = new List<Dimension> { new() { Name = "TrainingJobName", Value = job } };
                sets.AddRange(metric.Select(p => p.Host).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
                    .Select(h => new Dimension { Name = "Host", Value = $"{job}/{h}" }));
                foreach (var dimension in sets)
                {
                    // A metric matches when it has every filtered dimension (with the value, if one is given).
                    if (filters.All(f => f.Name == dimension.Name && (f.Value is null || f.Value == dimension.Value)))
                    {
                        all.Add(($"{job}\u0000{metric.Key}\u0000{dimension.Name}\u0000{dimension.Value}", metric.Key, dimension));
                    }
                }
            }
        }

        all.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        var after = input.NextToken is { } token ? ReadToken(token) : null;
        var rest = after is null ? all : all.Where(m => string.CompareOrdinal(m.Key, after) > 0).ToList();
        var page = rest.Take(ListPage).Select(m => (m.Name, m.Dimension)).ToList();
        return (page, rest.Count > ListPage ? Convert.ToBase64String(Encoding.UTF8.GetBytes(rest[ListPage - 1].Key)) : null);
    }

    private static string ReadToken(string token)
    {
        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(token));
        }
        catch (FormatException)
        {
            throw new ApiException("InvalidParameterValue", 400, "The parameter NextToken is invalid.");
        }
    }

    private static DateTimeOffset Align(DateTimeOffset time, TimeSpan period) =>
        DateTimeOffset.UnixEpoch.AddTicks((time - DateTimeOffset.UnixEpoch).Ticks / period.Ticks * period.Ticks);
}
