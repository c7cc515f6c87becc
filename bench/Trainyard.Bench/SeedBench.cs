using System.Globalization;
using System.Text.Json;
using Trainyard.Jobs;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Bench;

/// <summary>
/// Fills a home directory's job store with N completed jobs (as a long-lived server would hold), for
/// load tests of Describe and List with wrk, and for the restart bench (bench/restart.sh): the last RUNNING
/// of them are left in Training, as a server killed mid-run leaves them. Usage: seed HOME [count=10000] [running=0]
/// </summary>
internal static class SeedBench
{
    public static Task<int> RunAsync(string[] args)
    {
        var home = args[0];
        var count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000;
        var running = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 0;
        Directory.CreateDirectory(home);
        using var database = new TrainyardDatabase(Path.Combine(home, "trainyard.db"));
        var store = new JobStore(database);
        var template = """
            {"TrainingJobName": "NAME", "RoleArn": "arn:aws:iam::123456789012:role/r",
             "AlgorithmSpecification": {"TrainingImage": "/opt/algo", "TrainingInputMode": "File"},
             "HyperParameters": {"epochs": "10", "learning_rate": "0.1"},
             "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bench/train/"}}}],
             "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
             "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
             "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}
            """;
        var start = DateTimeOffset.UtcNow.AddDays(-1);
        for (var i = store.Count; i < count; i++)
        {
            var name = $"bench-job-{i:D6}";
            var request = JsonSerializer.Deserialize(template.Replace("NAME", name, StringComparison.Ordinal), TrainyardJsonContext.Default.CreateTrainingJobRequest)!;
            var created = start.AddSeconds(i);
            var job = JobStateMachine.Start(new JobRecord
            {
                Name = name,
                Arn = $"arn:aws:sagemaker:us-east-1:000000000000:training-job/{name}",
                Sequence = store.NextSequence(),
                Definition = request,
                DefinitionJson = JsonSerializer.Serialize(request, TrainyardJsonContext.Default.CreateTrainingJobRequest),
                ImagePath = "/opt/algo",
                Status = TrainingJobStatus.InProgress,
                SecondaryStatus = SecondaryStatus.Starting,
                CreationTime = created,
                LastModifiedTime = created,
            }, created);
            JobEvent[] events = i >= count - running
                ? [JobEvent.Download, JobEvent.Train]
                : [JobEvent.Download, JobEvent.Train, JobEvent.Upload, i % 10 == 0 ? JobEvent.Fail("AlgorithmError: seeded") : JobEvent.Complete];
            for (var e = 0; e < events.Length; e++)
            {
                JobStateMachine.TryApply(job, events[e], created.AddSeconds(e == 0 ? 1 : e == 1 ? 2 : 58 + e), out job, out _);
            }

            job = i < count - running
                ? job with { ModelArtifacts = $"s3://bench/out/{name}/output/model.tar.gz" }
                : job with { ExecutorName = "local" }; // placed on this machine's executor by the server that died
            store.TryCreate(job);
        }

        Console.WriteLine($"{store.Count} jobs in {home}");
        return Task.FromResult(0);
    }
}
