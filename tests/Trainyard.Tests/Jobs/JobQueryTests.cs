using Trainyard.Jobs;
using Trainyard.Model;

namespace Trainyard.Tests.Jobs;

public sealed class JobQueryTests
{
    private static JobRecord Job(string name, int minute, TrainingJobStatus status = TrainingJobStatus.Completed) => new()
    {
        Name = name,
        Arn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/" + name,
        Sequence = minute,
        Definition = null!,
        ImagePath = "/x",
        DefinitionJson = "{}",
        Status = status,
        SecondaryStatus = status == TrainingJobStatus.Completed ? SecondaryStatus.Completed : SecondaryStatus.Failed,
        CreationTime = new DateTimeOffset(2026, 1, 1, 0, minute, 0, TimeSpan.Zero),
        LastModifiedTime = new DateTimeOffset(2026, 1, 1, 0, minute, 30, TimeSpan.Zero),
    };

    [Fact]
    public void List_PagesWithTokens_VisitEveryJobOnceEvenWhenJobsArriveBetweenPages()
    {
        var jobs = Enumerable.Range(0, 25).Select(i => Job($"job-{i:D2}", i)).ToList();
        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var (page, next) = JobQuery.List(jobs, new ListTrainingJobsRequest { MaxResults = 10, NextToken = token });
            seen.AddRange(page.Select(j => j.Name));
            token = next;
            pages++;
            jobs.Add(Job($"late-{pages}", 59)); // newer than everything: sorts before the cursor, never re-listed
        }
        while (token is not null);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 25).Reverse().Select(i => $"job-{i:D2}"), seen);
    }

    [Fact]
    public void List_FiltersAndSorts()
    {
        var jobs = new[] { Job("b-one", 1, TrainingJobStatus.Failed), Job("a-two", 2), Job("c-three", 3, TrainingJobStatus.Failed) };
        var (failed, _) = JobQuery.List(jobs, new ListTrainingJobsRequest { StatusEquals = "Failed", SortBy = "Name", SortOrder = "Ascending" });
        Assert.Equal(["b-one", "c-three"], failed.Select(j => j.Name));
        var (named, _) = JobQuery.List(jobs, new ListTrainingJobsRequest { NameContains = "TWO" });
        Assert.Equal(["a-two"], named.Select(j => j.Name));
        var (after, _) = JobQuery.List(jobs, new ListTrainingJobsRequest { CreationTimeAfter = jobs[0].CreationTime, SortOrder = "Ascending" });
        Assert.Equal(["a-two", "c-three"], after.Select(j => j.Name));
    }

    [Fact]
    public void List_TokenFromAnotherQuery_IsAValidationError()
    {
        var jobs = Enumerable.Range(0, 5).Select(i => Job($"job-{i}", i)).ToList();
        var (_, token) = JobQuery.List(jobs, new ListTrainingJobsRequest { MaxResults = 2 });
        Assert.Throws<ApiValidationException>(() => JobQuery.List(jobs, new ListTrainingJobsRequest { MaxResults = 2, NextToken = token, SortBy = "Name" }));
        Assert.Throws<ApiValidationException>(() => JobQuery.List(jobs, new ListTrainingJobsRequest { NextToken = "garbage!!" }));
    }
}
