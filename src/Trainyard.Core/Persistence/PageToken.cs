namespace Trainyard.Persistence;

/// <summary>The position a NextToken encodes: the sort, the filters, and the last record of the page before.</summary>
internal sealed record PageToken(string SortBy, string SortOrder, string Filter, string Key, string Name);
