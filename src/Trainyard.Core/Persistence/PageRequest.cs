namespace Trainyard.Persistence;

/// <summary>One List request, whatever the resource: the sort, the page size, the token, and a key naming its filters.</summary>
public sealed record PageRequest(string SortBy, string SortOrder, int MaxResults, string? NextToken, string Filter)
{
    public bool Descending => SortOrder == "Descending";
}
