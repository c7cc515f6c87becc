using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Jobs;

/// <summary>ListTrainingJobs: the request's filters and sort over <see cref="RecordPages"/>.</summary>
public static class JobQuery
{
    public static (List<JobRecord> Page, string? NextToken) List(JobStore store, ListTrainingJobsRequest request) =>
        RecordPages.Page(store, Page(request), j => Matches(j, request), j => j.Status.ToString());

    public static (List<JobRecord> Page, string? NextToken) List(IEnumerable<JobRecord> jobs, ListTrainingJobsRequest request) =>
        RecordPages.Page(jobs, Page(request), j => Matches(j, request), j => j.Status.ToString());

    private static PageRequest Page(ListTrainingJobsRequest r) => new(r.SortBy ?? "CreationTime", r.SortOrder ?? "Descending", r.MaxResults ?? 10, r.NextToken,
        $"{r.StatusEquals}|{r.NameContains}|{r.CreationTimeAfter?.UtcTicks}|{r.CreationTimeBefore?.UtcTicks}|{r.LastModifiedTimeAfter?.UtcTicks}|{r.LastModifiedTimeBefore?.UtcTicks}");

    private static bool Matches(JobRecord j, ListTrainingJobsRequest r) =>
        (r.StatusEquals is null || j.Status.ToString() == r.StatusEquals)
        && (r.NameContains is null || j.Name.Contains(r.NameContains, StringComparison.OrdinalIgnoreCase))
        && (r.CreationTimeAfter is null || j.CreationTime > r.CreationTimeAfter)
        && (r.CreationTimeBefore is null || j.CreationTime < r.CreationTimeBefore)
        && (r.LastModifiedTimeAfter is null || j.LastModifiedTime > r.LastModifiedTimeAfter)
        && (r.LastModifiedTimeBefore is null || j.LastModifiedTime < r.LastModifiedTimeBefore);
}
