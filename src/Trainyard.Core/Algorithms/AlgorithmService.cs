using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Trainyard.Jobs;
using Trainyard.Model;
using Trainyard.Persistence;

namespace Trainyard.Algorithms;

/// <summary>
/// CreateAlgorithm, DescribeAlgorithm, ListAlgorithms, DeleteAlgorithm. An algorithm with a
/// ValidationSpecification goes Pending → InProgress → Completed or Failed: each profile's
/// TrainingJobDefinition is checked against the algorithm's TrainingSpecification, then run as a real
/// training job with the algorithm's image; the profile passes when that job Completes.
/// </summary>
public sealed partial class AlgorithmService(AlgorithmStore store, TrainingJobService jobs, ILogger<AlgorithmService> logger)
{
    public AlgorithmStore Store => store;

    public string ArnOf(string name) => $"arn:aws:sagemaker:{jobs.Options.Region}:{jobs.Options.AccountId}:algorithm/{name.ToLowerInvariant()}";

    public AlgorithmRecord Create(CreateAlgorithmInput input)
    {
        var problems = AlgorithmChecks.CheckSpecification(input.TrainingSpecification);
        if (ImageResolver.Resolve(input.TrainingSpecification.TrainingImage, jobs.Options, out var imageProblem) is null)
        {
            problems.Add(imageProblem!.Replace("TrainingImage", "TrainingSpecification.TrainingImage", StringComparison.Ordinal));
        }

        if (problems.Count > 0)
        {
            throw new ApiValidationException($"The algorithm {input.AlgorithmName} is not valid: " + string.Join(" ", problems));
        }

        var profiles = input.ValidationSpecification?.ValidationProfiles ?? [];
        var record = new AlgorithmRecord
        {
            Name = input.AlgorithmName,
            Sequence = store.NextSequence(),
            Arn = ArnOf(input.AlgorithmName),
            Definition = input,
            CreationTime = DateTimeOffset.UtcNow,
            Status = profiles.Count == 0 ? AlgorithmStatus.Completed : AlgorithmStatus.Pending,
            Validations = [.. profiles.Select(p => new ProfileValidation { Name = p.ProfileName, Status = DetailedAlgorithmStatus.NotStarted })],
        };
        if (!store.TryCreate(record))
        {
            throw new ApiValidationException($"An algorithm named {input.AlgorithmName} already exists ({ArnOf(input.AlgorithmName)}).");
        }

        if (profiles.Count > 0)
        {
            _ = Task.Run(() => ValidateAsync(record), CancellationToken.None);
        }

        return record;
    }

    public AlgorithmRecord Describe(string nameOrArn) =>
        store.Resolve(nameOrArn) ?? throw new ApiValidationException($"Could not find algorithm '{nameOrArn}'.");

    public void Delete(string name)
    {
        var record = Describe(name);
        if (!store.Delete(record.Name, a => a.Status is not (AlgorithmStatus.Pending or AlgorithmStatus.InProgress)))
        {
            var now = store.Get(record.Name);
            if (now is not null)
            {
                throw new ApiValidationException($"The algorithm {now.Name} is being validated ({now.Status}); delete it when validation has ended.");
            }
        }
    }

    /// <summary>Runs the profiles concurrently (capacity permitting) and settles the algorithm's status.</summary>
    private async Task ValidateAsync(AlgorithmRecord record)
    {
        store.Update(record.Name, a => a with { Status = AlgorithmStatus.InProgress });
        var spec = record.Definition.TrainingSpecification;
        var profiles = record.Definition.ValidationSpecification!.ValidationProfiles;
        var results = await Task.WhenAll(profiles.Select(p => ValidateProfileAsync(record, spec, p))).ConfigureAwait(false);
        store.Update(record.Name, a => a with
        {
            Status = results.All(r => r.Status == DetailedAlgorithmStatus.Completed) ? AlgorithmStatus.Completed : AlgorithmStatus.Failed,
        });
        LogValidated(logger, record.Name, results.Count(r => r.Status == DetailedAlgorithmStatus.Completed), results.Length);
    }

    private async Task<ProfileValidation> ValidateProfileAsync(AlgorithmRecord record, TrainingSpecification spec, AlgorithmValidationProfile profile)
    {
        ProfileValidation SetStatus(DetailedAlgorithmStatus status, string? reason = null, string? jobName = null)
        {
            var item = new ProfileValidation { Name = profile.ProfileName, Status = status, FailureReason = reason, JobName = jobName };
            store.Update(record.Name, a => a with { Validations = a.Validations.Select(s => s.Name == profile.ProfileName ? item with { JobName = jobName ?? s.JobName } : s).ToImmutableList() });
            return item;
        }

        var definition = profile.TrainingJobDefinition;
        var (problems, hyperParameters) = AlgorithmChecks.CheckJob(record.Name, spec, definition.TrainingInputMode, definition.HyperParameters, definition.InputDataConfig, definition.ResourceConfig);
        if (problems.Count > 0)
        {
            return SetStatus(DetailedAlgorithmStatus.Failed, "The profile's TrainingJobDefinition does not fit the algorithm: " + string.Join(" ", problems));
        }

        var prefix = $"{record.Name}-{profile.ProfileName}";
        var name = (prefix.Length > 50 ? prefix[..50] : prefix).TrimEnd('-') + "-" + Guid.NewGuid().ToString("N")[..8];
        var request = new CreateTrainingJobRequest
        {
            TrainingJobName = name,
            RoleArn = record.Definition.ValidationSpecification!.ValidationRole,
            AlgorithmSpecification = new AlgorithmSpecification
            {
                TrainingImage = spec.TrainingImage,
                TrainingInputMode = definition.TrainingInputMode,
                MetricDefinitions = spec.MetricDefinitions,
            },
            HyperParameters = hyperParameters,
            InputDataConfig = definition.InputDataConfig,
            OutputDataConfig = definition.OutputDataConfig,
            ResourceConfig = definition.ResourceConfig,
            StoppingCondition = definition.StoppingCondition,
            Tags = [new Tag { Key = "trainyard:algorithm-validation", Value = record.Name }],
        };

        SetStatus(DetailedAlgorithmStatus.InProgress, jobName: name);
        try
        {
            await jobs.CreateAsync(request, CancellationToken.None).ConfigureAwait(false);
            while (jobs.Store.Get(name) is not { IsTerminal: true })
            {
                await Task.Delay(100).ConfigureAwait(false);
            }

            var job = jobs.Store.Get(name)!;
            return job.Status == TrainingJobStatus.Completed
                ? SetStatus(DetailedAlgorithmStatus.Completed)
                : SetStatus(DetailedAlgorithmStatus.Failed, $"Validation training job {name} ended {job.Status}: {job.FailureReason}");
        }
        catch (ApiException e)
        {
            return SetStatus(DetailedAlgorithmStatus.Failed, $"The validation training job could not be created: {e.ErrorType}: {e.Message}");
        }
    }

    public (List<AlgorithmRecord> Page, string? NextToken) List(ListAlgorithmsInput input) => RecordPages.Page(store,
        new PageRequest(input.SortBy ?? "CreationTime", input.SortOrder ?? "Ascending", input.MaxResults ?? 10, input.NextToken,
            $"{input.NameContains}|{input.CreationTimeAfter?.UtcTicks}|{input.CreationTimeBefore?.UtcTicks}"),
        a => (input.NameContains is null || a.Name.Contains(input.NameContains, StringComparison.OrdinalIgnoreCase))
            && (input.CreationTimeAfter is null || a.CreationTime > input.CreationTimeAfter)
            && (input.CreationTimeBefore is null || a.CreationTime < input.CreationTimeBefore));

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Algorithm {Algorithm}: {Passed} of {Total} validation profiles passed")]
    private static partial void LogValidated(ILogger logger, string algorithm, int passed, int total);
}
