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
    /// <summary>A page from the store, walking its sorted index where one exists (no scan of every job).</summary>
    public static (List<JobRecord> Page, string? NextToken) List(JobStore store, ListTrainingJobsRequest request)
    {
        var sortBy = request.SortBy ?? "CreationTime";
        var index = store.Ordered(sortBy);
        if (index is null)
        {
            return List(store.All, request);
        }

        var order = request.SortOrder ?? "Descending";
        var descending = order == "Descending";
        var max = request.MaxResults ?? 10;
        var filter = FilterKey(request);
        Comparison<JobRecord> compare = sortBy == "Name" ? JobStore.CompareName : JobStore.CompareCreation;

        // Position after the cursor: a binary search for the job the token names.
        int start;
        if (!string.IsNullOrEmpty(request.NextToken))
        {
            var after = Decode(request.NextToken);
            if (after is null || after.SortBy != sortBy || after.SortOrder != order || after.Filter != filter)
            {
                throw new ApiValidationException("The NextToken is not valid for this request. Repeat the request without it, with the same filters and sort as the request that returned it.");
            }

            var key = SortKey.FromToken(sortBy, after.Key, after.Name);
            var probe = new JobRecord
            {
                Name = key.Name,
                Arn = "",
                Sequence = 0,
                Definition = null!,
                DefinitionJson = "",
                ImagePath = "",
                Status = "",
                SecondaryStatus = "",
                CreationTime = new DateTimeOffset(key.Number, TimeSpan.Zero),
                LastModifiedTime = default,
            };
            var at = Array.BinarySearch(index, probe, Comparer<JobRecord>.Create(compare));
            start = descending
                ? (at >= 0 ? at - 1 : ~at - 1)
                : (at >= 0 ? at + 1 : ~at);
        }
        else
        {
            start = descending ? index.Length - 1 : 0;
        }

        var page = new List<JobRecord>(Math.Min(max, 128));
        var more = false;
        for (var i = start; descending ? i >= 0 : i < index.Length; i += descending ? -1 : 1)
        {
            var job = store.Get(index[i].Name) ?? index[i];
            if (!Matches(job, request))
            {
                continue;
            }

            if (page.Count == max)
            {
                more = true;
                break;
            }

            page.Add(job);
        }

        string? next = null;
        if (more && page.Count > 0)
        {
            var last = page[^1];
            next = Encode(new PageToken(sortBy, order, filter, SortKey.Of(last, sortBy).TokenValue, last.Name));
        }

        return (page, next);
    }

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

        // One pass: keep the first MaxResults jobs after the cursor (a bounded heap, O(n log k)), and
        // count whether more follow. No full sort of the store per page.
        var comparer = new KeyComparer(order == "Descending");
        SortKey? cursor = after is null ? null : SortKey.FromToken(sortBy, after.Key, after.Name);
        var heap = new PriorityQueue<JobRecord, SortKey>(max + 1, new KeyComparer(order != "Descending"));
        var more = false;
        foreach (var job in jobs)
        {
            if (!Matches(job, request))
            {
                continue;
            }

            var key = SortKey.Of(job, sortBy);
            if (cursor is { } c && comparer.Compare(key, c) <= 0)
            {
                continue;
            }

            if (heap.Count == max)
            {
                // Full page: only a job that sorts before the page's last one gets in.
                more = true;
                if (heap.TryPeek(out _, out var lastKey) && comparer.Compare(key, lastKey) >= 0)
                {
                    continue;
                }

                heap.EnqueueDequeue(job, key);
                continue;
            }

            heap.Enqueue(job, key);
        }

        var page = new List<JobRecord>(heap.Count);
        while (heap.TryDequeue(out var job, out _))
        {
            page.Add(job);
        }

        page.Reverse();
        string? next = null;
        if (more && page.Count > 0)
        {
            var last = page[^1];
            next = Encode(new PageToken(sortBy, order, filter, SortKey.Of(last, sortBy).TokenValue, last.Name));
        }

        return (page, next);
    }

    /// <summary>A job's position in a sort: creation ticks or a string, then the name.</summary>
    private readonly record struct SortKey(long Number, string Text, string Name)
    {
        public string TokenValue => Text.Length > 0 ? Text : Number.ToString(System.Globalization.CultureInfo.InvariantCulture);

        public static SortKey Of(JobRecord j, string sortBy) => sortBy switch
        {
            "Name" => new SortKey(0, "", j.Name),
            "Status" => new SortKey(0, j.Status, j.Name),
            _ => new SortKey(j.CreationTime.UtcTicks, "", j.Name),
        };

        public static SortKey FromToken(string sortBy, string value, string name) => sortBy switch
        {
            "Name" => new SortKey(0, "", name),
            "Status" => new SortKey(0, value, name),
            _ => long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var ticks)
                ? new SortKey(ticks, "", name)
                : throw new ApiValidationException("The NextToken is not valid for this request."),
        };
    }

    private sealed class KeyComparer(bool descending) : IComparer<SortKey>
    {
        public int Compare(SortKey a, SortKey b)
        {
            var c = a.Number.CompareTo(b.Number);
            if (c == 0)
            {
                c = string.CompareOrdinal(a.Text, b.Text);
            }

            if (c == 0)
            {
                c = string.CompareOrdinal(a.Name, b.Name);
            }

            return descending ? -c : c;
        }
    }

    private static bool Matches(JobRecord j, ListTrainingJobsRequest r) =>
        (r.StatusEquals is null || j.Status == r.StatusEquals)
        && (r.NameContains is null || j.Name.Contains(r.NameContains, StringComparison.OrdinalIgnoreCase))
        && (r.CreationTimeAfter is null || j.CreationTime > r.CreationTimeAfter)
        && (r.CreationTimeBefore is null || j.CreationTime < r.CreationTimeBefore)
        && (r.LastModifiedTimeAfter is null || j.LastModifiedTime > r.LastModifiedTimeAfter)
        && (r.LastModifiedTimeBefore is null || j.LastModifiedTime < r.LastModifiedTimeBefore);

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
