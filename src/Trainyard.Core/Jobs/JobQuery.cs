using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Trainyard.Model;

namespace Trainyard.Jobs;

/// <summary>The position a NextToken encodes: the sort and the last job of the page before.</summary>
internal sealed record PageToken(string SortBy, string SortOrder, string Filter, string Key, string Name);

/// <summary>
/// ListTrainingJobs over the store: filters, sorting (ties broken by name) and keyset pagination, so a
/// page boundary stays put when jobs are created between two pages.
/// </summary>
public static class JobQuery
{
    public static (List<JobRecord> Page, string? NextToken) List(IEnumerable<JobRecord> jobs, ListTrainingJobsRequest request)
    {
        var sortBy = request.SortBy ?? "CreationTime";
        var order = request.SortOrder ?? "Descending";
        var max = request.MaxResults ?? 10;
        var filter = FilterKey(request);
        PageToken? after = null;
        if (!string.IsNullOrEmpty(request.NextToken))
        {
            after = Decode(request.NextToken);
            if (after is null || after.SortBy != sortBy || after.SortOrder != order || after.Filter != filter)
            {
                throw new ApiValidationException("The NextToken is not valid for this request. Repeat the request without it, with the same filters and sort as the request that returned it.");
            }
        }

        var matching = jobs.Where(j => Matches(j, request)).ToList();
        Comparison<JobRecord> compare = (a, b) =>
        {
            var c = string.CompareOrdinal(Key(a, sortBy), Key(b, sortBy));
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Name, b.Name);
            }

            return order == "Ascending" ? c : -c;
        };
        matching.Sort(compare);
        var start = 0;
        if (after is not null)
        {
            start = matching.Count;
            for (var i = 0; i < matching.Count; i++)
            {
                var c = string.CompareOrdinal(Key(matching[i], sortBy), after.Key);
                if (c == 0)
                {
                    c = string.CompareOrdinal(matching[i].Name, after.Name);
                }

                if (order == "Descending")
                {
                    c = -c;
                }

                if (c > 0)
                {
                    start = i;
                    break;
                }
            }
        }

        var page = matching.Skip(start).Take(max).ToList();
        string? next = null;
        if (start + page.Count < matching.Count && page.Count > 0)
        {
            var last = page[^1];
            next = Encode(new PageToken(sortBy, order, filter, Key(last, sortBy), last.Name));
        }

        return (page, next);
    }

    private static bool Matches(JobRecord j, ListTrainingJobsRequest r) =>
        (r.StatusEquals is null || j.Status == r.StatusEquals)
        && (r.NameContains is null || j.Name.Contains(r.NameContains, StringComparison.OrdinalIgnoreCase))
        && (r.CreationTimeAfter is null || j.CreationTime > r.CreationTimeAfter)
        && (r.CreationTimeBefore is null || j.CreationTime < r.CreationTimeBefore)
        && (r.LastModifiedTimeAfter is null || j.LastModifiedTime > r.LastModifiedTimeAfter)
        && (r.LastModifiedTimeBefore is null || j.LastModifiedTime < r.LastModifiedTimeBefore);

    // Keys compare ordinally: creation times as fixed-width tick counts.
    private static string Key(JobRecord j, string sortBy) => sortBy switch
    {
        "Name" => j.Name,
        "Status" => j.Status,
        _ => j.CreationTime.UtcTicks.ToString("D20", System.Globalization.CultureInfo.InvariantCulture),
    };

    private static string FilterKey(ListTrainingJobsRequest r) =>
        $"{r.StatusEquals}|{r.NameContains}|{r.CreationTimeAfter?.UtcTicks}|{r.CreationTimeBefore?.UtcTicks}|{r.LastModifiedTimeAfter?.UtcTicks}|{r.LastModifiedTimeBefore?.UtcTicks}";

    private static string Encode(PageToken token) =>
        Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(token, JobsJsonContext.Default.PageToken));

    private static PageToken? Decode(string token)
    {
        try
        {
            return JsonSerializer.Deserialize(Base64Url.DecodeFromChars(token), JobsJsonContext.Default.PageToken);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            return null;
        }
    }
}
