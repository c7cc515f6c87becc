using System.Buffers.Text;
using System.Globalization;
using System.Text.Json;
using Trainyard.Model;

namespace Trainyard.Persistence;

/// <summary>
/// List operations over a <see cref="RecordStore{T}"/>: filters, sorting (ties broken by name) and keyset
/// pagination, so that a page boundary stays put when records are created between two pages. Sorts the
/// store keeps an index for (CreationTime, Name) walk it; others take one pass with a bounded heap.
/// </summary>
public static class RecordPages
{
    /// <summary>A page from the store, walking its sorted index where one exists (no scan of every record).</summary>
    public static (List<T> Page, string? NextToken) Page<T>(RecordStore<T> store, PageRequest request, Func<T, bool> matches, Func<T, string>? sortText = null)
        where T : class, IStoredRecord
    {
        var index = store.Ordered(request.SortBy);
        if (index is null)
        {
            return Page(store.All, request, matches, sortText);
        }

        var descending = request.Descending;
        var start = descending ? index.Length - 1 : 0;
        if (Cursor(request) is { } key)
        {
            // The first record that sorts after the cursor (ascending) or the last one before it (descending).
            Comparison<IStoredRecord> compare = request.SortBy == "Name" ? RecordStore<T>.CompareName : RecordStore<T>.CompareCreation;
            int low = 0, high = index.Length;
            while (low < high)
            {
                var mid = (low + high) >>> 1;
                if (compare(index[mid], key) <= 0)
                {
                    low = mid + 1;
                }
                else
                {
                    high = mid;
                }
            }

            start = low;
            if (descending)
            {
                start = low - 1;
                while (start >= 0 && compare(index[start], key) == 0)
                {
                    start--;
                }
            }
        }

        var page = new List<T>(Math.Min(request.MaxResults, 128));
        var more = false;
        for (var i = start; descending ? i >= 0 : i < index.Length; i += descending ? -1 : 1)
        {
            var record = store.Get(index[i].Name) ?? index[i];
            if (!matches(record))
            {
                continue;
            }

            if (page.Count == request.MaxResults)
            {
                more = true;
                break;
            }

            page.Add(record);
        }

        return (page, more ? Next(page, request, sortText) : null);
    }

    /// <summary>A page from any set of records, in one pass: the first MaxResults after the cursor in a bounded heap (O(n log k)).</summary>
    public static (List<T> Page, string? NextToken) Page<T>(IEnumerable<T> records, PageRequest request, Func<T, bool> matches, Func<T, string>? sortText = null)
        where T : class, IStoredRecord
    {
        var comparer = new KeyComparer(request.Descending);
        var cursor = Cursor(request);
        var heap = new PriorityQueue<T, SortKey>(request.MaxResults + 1, new KeyComparer(!request.Descending));
        var more = false;
        foreach (var record in records)
        {
            if (!matches(record))
            {
                continue;
            }

            var key = SortKey.Of(record, request.SortBy, sortText);
            if (cursor is { } c && comparer.Compare(key, c) <= 0)
            {
                continue;
            }

            if (heap.Count == request.MaxResults)
            {
                // Full page: only a record that sorts before the page's last one gets in.
                more = true;
                if (heap.TryPeek(out _, out var lastKey) && comparer.Compare(key, lastKey) >= 0)
                {
                    continue;
                }

                heap.EnqueueDequeue(record, key);
                continue;
            }

            heap.Enqueue(record, key);
        }

        var page = new List<T>(heap.Count);
        while (heap.TryDequeue(out var record, out _))
        {
            page.Add(record);
        }

        page.Reverse();
        return (page, more ? Next(page, request, sortText) : null);
    }

    private static string? Next<T>(List<T> page, PageRequest request, Func<T, string>? sortText)
        where T : class, IStoredRecord
    {
        if (page.Count == 0)
        {
            return null;
        }

        var last = page[^1];
        var token = new PageToken(request.SortBy, request.SortOrder, request.Filter, SortKey.Of(last, request.SortBy, sortText).TokenValue, last.Name);
        return Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(token, PersistenceJsonContext.Default.PageToken));
    }

    /// <summary>Where the token says the previous page ended; null without a token.</summary>
    private static SortKey? Cursor(PageRequest request)
    {
        if (string.IsNullOrEmpty(request.NextToken))
        {
            return null;
        }

        PageToken? token;
        try
        {
            token = JsonSerializer.Deserialize(Base64Url.DecodeFromChars(request.NextToken), PersistenceJsonContext.Default.PageToken);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            token = null;
        }

        if (token is null || token.SortBy != request.SortBy || token.SortOrder != request.SortOrder || token.Filter != request.Filter)
        {
            throw new ApiValidationException("The NextToken is not valid for this request. Repeat the request without it, with the same filters and sort as the request that returned it.");
        }

        return SortKey.FromToken(request.SortBy, token.Key, token.Name);
    }

    /// <summary>A record's position in a sort: creation ticks or a text, then the name.</summary>
    private readonly record struct SortKey(long Number, string Text, string Name) : IStoredRecord
    {
        public string TokenValue => Text.Length > 0 ? Text : Number.ToString(CultureInfo.InvariantCulture);

        long IStoredRecord.Sequence => 0;

        DateTimeOffset IStoredRecord.CreationTime => new(Number, TimeSpan.Zero);

        public static SortKey Of<T>(T record, string sortBy, Func<T, string>? sortText)
            where T : IStoredRecord => sortBy switch
        {
            "Name" => new SortKey(0, "", record.Name),
            "CreationTime" => new SortKey(record.CreationTime.UtcTicks, "", record.Name),
            _ => new SortKey(0, sortText?.Invoke(record) ?? "", record.Name),
        };

        public static SortKey FromToken(string sortBy, string value, string name) => sortBy switch
        {
            "Name" => new SortKey(0, "", name),
            "CreationTime" => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ticks)
                ? new SortKey(ticks, "", name)
                : throw new ApiValidationException("The NextToken is not valid for this request."),
            _ => new SortKey(0, value, name),
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
}
