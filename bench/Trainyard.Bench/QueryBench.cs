using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Trainyard.Api;
using Trainyard.Jobs;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Bench;

/// <summary>In-process cost of ListTrainingJobs and DescribeTrainingJob over a seeded store. Usage: query HOME</summary>
internal static class QueryBench
{
    public static Task<int> RunAsync(string[] args)
    {
        using var database = new TrainyardDatabase(Path.Combine(args[0], "trainyard.db"));
        var store = new JobStore(database);
        var requests = new[]
        {
            new ListTrainingJobsRequest { MaxResults = 100 },
            new ListTrainingJobsRequest { MaxResults = 100, StatusEquals = "Failed", SortBy = "Name" },
        };
        foreach (var request in requests)
        {
            for (var i = 0; i < 200; i++)
            {
                JobQuery.List(store, request);
            }

            var sw = Stopwatch.StartNew();
            const int N = 2000;
            long bytes = 0;
            for (var i = 0; i < N; i++)
            {
                var (page, next) = JobQuery.List(store, request);
                var summaries = page.Select(j => new TrainingJobSummary { TrainingJobName = j.Name, TrainingJobArn = j.Arn, CreationTime = j.CreationTime, TrainingEndTime = j.TrainingEndTime, LastModifiedTime = j.LastModifiedTime, TrainingJobStatus = j.Status.ToString() }).ToList();
                bytes += JsonSerializer.SerializeToUtf8Bytes(new ListTrainingJobsResponse(summaries, next), TrainyardJsonContext.Default.ListTrainingJobsResponse).Length;
            }

            var query = sw.Elapsed.TotalMicroseconds / N;
            sw.Restart();
            for (var i = 0; i < N; i++)
            {
                JobQuery.List(store, request);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"list {(request.StatusEquals ?? "all")}/{request.SortBy ?? "CreationTime"} over {store.Count} jobs: {query:F0} µs per page with serialisation ({bytes / N} bytes), {sw.Elapsed.TotalMicroseconds / N:F0} µs query only"));
        }

        var job = store.Get("bench-job-004242")!;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 20000; i++)
        {
            JsonSerializer.SerializeToUtf8Bytes(SageMakerApi.Describe(job), TrainyardJsonContext.Default.DescribeTrainingJobResponse);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"describe: {watch.Elapsed.TotalMicroseconds / 20000:F1} µs per answer"));
        return Task.FromResult(0);
    }
}
