using System.Text.Json;
using Microsoft.Data.Sqlite;
using Trainyard.Algorithms;
using Trainyard.Jobs;
using Trainyard.Model;
using Trainyard.Persistence;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Persistence;

/// <summary>The one store of jobs and algorithms: ordering of changes, durability, older homes.</summary>
public sealed class RecordStoreTests
{
    private const string Request = """
        {"TrainingJobName": "NAME", "RoleArn": "arn:aws:iam::123456789012:role/r",
         "AlgorithmSpecification": {"TrainingImage": "/opt/algo", "TrainingInputMode": "File"},
         "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
         "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
         "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}
        """;

    private static JobRecord NewJob(JobStore store, string name)
    {
        var json = Request.Replace("NAME", name, StringComparison.Ordinal);
        var now = DateTimeOffset.UtcNow;
        return JobStateMachine.Start(new JobRecord
        {
            Name = name,
            Arn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/" + name,
            Sequence = store.NextSequence(),
            Definition = JsonSerializer.Deserialize(json, TrainyardJsonContext.Default.CreateTrainingJobRequest)!,
            DefinitionJson = json,
            ImagePath = "/opt/algo",
            Status = TrainingJobStatus.InProgress,
            SecondaryStatus = SecondaryStatus.Starting,
            CreationTime = now,
            LastModifiedTime = now,
        }, now);
    }

    [Fact]
    public async Task Changed_ConcurrentChangesOfOneJob_AreSeenInTheOrderTheyWereStored()
    {
        using var home = new TempDirectory("store");
        using var db = new TrainyardDatabase(home["trainyard.db"]);
        var store = new JobStore(db);
        Assert.True(store.TryCreate(NewJob(store, "busy")));
        var seen = new List<int>();
        store.Changed += job =>
        {
            lock (seen)
            {
                seen.Add(job.Tags.Count);
            }
        };

        // Four writers add a tag each, many times: every stored version has one tag more than the one before,
        // so listeners must see 1, 2, 3, … — a listener that sees 7 after 8 would, say, print a status the job has left.
        const int PerWriter = 500;
        var start = new ManualResetEventSlim();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            start.Wait();
            for (var i = 0; i < PerWriter; i++)
            {
                store.Update("busy", j => j with { Tags = j.Tags.Add(new Tag { Key = $"w{w}-{i}", Value = "v" }) });
            }
        })).ToList();
        start.Set();
        await Task.WhenAll(writers);
        Assert.Equal(Enumerable.Range(1, 4 * PerWriter), seen);
    }

    [Fact]
    public void Update_ThatChangesTheStatus_IsRefused()
    {
        using var home = new TempDirectory("store");
        using var db = new TrainyardDatabase(home["trainyard.db"]);
        var store = new JobStore(db);
        store.TryCreate(NewJob(store, "j"));
        Assert.Throws<InvalidOperationException>(() => store.Update("j", j => j with { Status = TrainingJobStatus.Completed }));
        Assert.Equal(TrainingJobStatus.InProgress, store.Get("j")!.Status);
    }

    [Fact]
    public void Reopen_JobsAndAlgorithmsComeBackWithEveryMember()
    {
        using var home = new TempDirectory("store");
        string before;
        string algorithmBefore;
        using (var db = new TrainyardDatabase(home["trainyard.db"]))
        {
            var store = new JobStore(db);
            store.TryCreate(NewJob(store, "first"));
            store.TryCreate(NewJob(store, "second"));
            store.Apply("first", JobEvent.Download);
            store.Apply("first", JobEvent.Train);
            store.Apply("first", JobEvent.Note("Downloading the training image"));
            store.Apply("first", JobEvent.TimeOut);
            store.Update("first", j => j with { ExecutorName = "local", ExecutorState = "42", Tags = [new Tag { Key = "k", Value = "v" }] });
            before = Dump(store.Get("first")!);

            var algorithms = new AlgorithmStore(db);
            algorithms.TryCreate(new AlgorithmRecord
            {
                Name = "algo",
                Sequence = algorithms.NextSequence(),
                Arn = "arn:aws:sagemaker:us-east-1:000000000000:algorithm/algo",
                Definition = new CreateAlgorithmInput { AlgorithmName = "algo", TrainingSpecification = new TrainingSpecification { TrainingImage = "/opt/algo", SupportedTrainingInstanceTypes = ["ml.m5.large"], TrainingChannels = [] } },
                CreationTime = DateTimeOffset.UtcNow,
                Status = AlgorithmStatus.InProgress,
                Validations = [new ProfileValidation { Name = "p", Status = DetailedAlgorithmStatus.InProgress, JobName = "algo-p-1" }],
            });
            algorithmBefore = algorithms.Get("algo")!.Describe().AlgorithmStatus + algorithms.Get("algo")!.Validations[0];
        }

        using (var db = new TrainyardDatabase(home["trainyard.db"]))
        {
            var store = new JobStore(db);
            Assert.Equal(2, store.Count);
            Assert.Equal(before, Dump(store.Get("first")!));
            Assert.Equal(SecondaryStatus.MaxRuntimeExceeded, store.Get("first")!.StopReason);
            Assert.Equal(2, store.NextSequence() - 1);
            var algorithms = new AlgorithmStore(db);
            Assert.Equal(algorithmBefore, algorithms.Get("algo")!.Describe().AlgorithmStatus + algorithms.Get("algo")!.Validations[0]);
        }
    }

    [Fact]
    public void Open_HomeWrittenByAnOlderTrainyard_LoadsItsJobsAndMigratesItsAlgorithms()
    {
        using var home = new TempDirectory("store");
        using (var c = new SqliteConnection($"Data Source={home["trainyard.db"]};Pooling=false"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            // The tables and rows exactly as Trainyard wrote them before statuses were enums.
            cmd.CommandText = """
                CREATE TABLE training_jobs (name TEXT PRIMARY KEY COLLATE NOCASE, seq INTEGER NOT NULL, definition TEXT NOT NULL, state TEXT NOT NULL);
                CREATE TABLE algorithms (name TEXT PRIMARY KEY COLLATE NOCASE, arn TEXT NOT NULL, creation_time REAL NOT NULL, definition TEXT NOT NULL, status TEXT NOT NULL, validation TEXT NOT NULL);
                INSERT INTO training_jobs VALUES ('old-job', 7, $definition,
                  '{"Arn":"arn:aws:sagemaker:us-east-1:000000000000:training-job/old-job","ImagePath":"/opt/algo","Status":"Stopped","SecondaryStatus":"MaxRuntimeExceeded","CreationTime":1767225600,"LastModifiedTime":1767225660.5,"TrainingStartTime":1767225601,"TrainingEndTime":1767225660.5,"Transitions":[{"Status":"Starting","StartTime":1767225600,"EndTime":1767225601,"StatusMessage":"Preparing the instances for training"},{"Status":"Stopping","StartTime":1767225601,"EndTime":1767225660.5,"StatusMessage":"Stopping the training job"},{"Status":"MaxRuntimeExceeded","StartTime":1767225660.5,"EndTime":1767225660.5,"StatusMessage":"Training job runtime exceeded MaxRuntimeInSeconds provided"}],"FinalMetrics":[],"Tags":[],"StopReason":"MaxRuntimeExceeded","ExecutorName":"local"}');
                INSERT INTO algorithms VALUES ('old-algo', 'arn:aws:sagemaker:us-east-1:000000000000:algorithm/old-algo', 1767225600.25,
                  '{"AlgorithmName":"old-algo","TrainingSpecification":{"TrainingImage":"/opt/algo","SupportedTrainingInstanceTypes":["ml.m5.large"],"TrainingChannels":[]}}',
                  'Failed', '[{"Name":"p1","Status":"Failed","FailureReason":"it broke"}]');
                """;
            cmd.Parameters.AddWithValue("$definition", Request.Replace("NAME", "old-job", StringComparison.Ordinal));
            cmd.ExecuteNonQuery();
        }

        using var db = new TrainyardDatabase(home["trainyard.db"]);
        var job = new JobStore(db).Get("old-job")!;
        Assert.Equal(TrainingJobStatus.Stopped, job.Status);
        Assert.Equal(SecondaryStatus.MaxRuntimeExceeded, job.SecondaryStatus);
        Assert.Equal([SecondaryStatus.Starting, SecondaryStatus.Stopping, SecondaryStatus.MaxRuntimeExceeded], job.Transitions.Select(t => t.Status));
        Assert.Equal(7, job.Sequence);
        Assert.Equal("ml.m5.large", job.Definition.ResourceConfig.InstanceType);

        var algorithms = new AlgorithmStore(db);
        var algorithm = algorithms.Get("old-algo")!;
        Assert.Equal(AlgorithmStatus.Failed, algorithm.Status);
        Assert.Equal(new ProfileValidation { Name = "p1", Status = DetailedAlgorithmStatus.Failed, FailureReason = "it broke" }, algorithm.Validations.Single());
        Assert.Equal(1767225600.25, JsonTimestamp.ToSeconds(algorithm.CreationTime));

        // Migrated once: the next open finds the new table.
        Assert.Equal(1, new AlgorithmStore(db).Count);
    }

    [Fact]
    public void Page_ThroughTheIndexAndTheHeap_VisitEveryRecordOnceInOrder()
    {
        using var home = new TempDirectory("store");
        using var db = new TrainyardDatabase(home["trainyard.db"]);
        var store = new JobStore(db);
        for (var i = 0; i < 57; i++)
        {
            store.TryCreate(NewJob(store, $"job-{i % 7}-{i:D2}"));
        }

        foreach (var (sortBy, order) in new[] { ("CreationTime", "Ascending"), ("CreationTime", "Descending"), ("Name", "Ascending"), ("Name", "Descending"), ("Status", "Ascending") })
        {
            var seen = new List<string>();
            string? token = null;
            do
            {
                var (page, next) = JobQuery.List(store, new ListTrainingJobsRequest { SortBy = sortBy, SortOrder = order, MaxResults = 5, NextToken = token });
                seen.AddRange(page.Select(j => j.Name));
                token = next;
            }
            while (token is not null);

            var expected = sortBy == "CreationTime"
                ? store.All.OrderBy(j => j.CreationTime).ThenBy(j => j.Name, StringComparer.Ordinal).Select(j => j.Name)
                : store.All.Select(j => j.Name).Order(StringComparer.Ordinal);
            Assert.Equal(order == "Descending" ? expected.Reverse() : expected, seen);
        }
    }

    private static string Dump(JobRecord job) => JsonSerializer.Serialize(SageMakerApiDescribe(job), TrainyardJsonContext.Default.DescribeTrainingJobResponse)
        + job.Sequence + job.ExecutorName + job.ExecutorState + job.StopReason;

    private static DescribeTrainingJobResponse SageMakerApiDescribe(JobRecord job) => Trainyard.Api.SageMakerApi.Describe(job);
}
