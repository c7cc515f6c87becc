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
public sealed partial class AlgorithmService(AlgorithmStore store, TrainingJobService jobs, ILogger<AlgorithmService> logger) : IDisposable
{
    private readonly CancellationTokenSource _shutdown = new();

    public AlgorithmStore Store => store;

    /// <summary>
    /// Takes up the validations a stopped server left Pending or InProgress: each profile whose job was
    /// created is followed to that job's end (which the job engine settles on its own restart), the others
    /// are started, so that no algorithm stays InProgress (and undeletable) for ever.
    /// </summary>
    public void ResumeValidations()
    {
        foreach (var algorithm in store.All.ToList().Where(a => a.Status is AlgorithmStatus.Pending or AlgorithmStatus.InProgress))
        {
            Validate(algorithm);
        }
    }

    public void Dispose()
    {
        _shutdown.Cancel();
        _shutdown.Dispose();
    }

    // Validation runs supervised: an unexpected error resumes it from the store after a back-off, and a
    // resumed validation never starts a second job for a profile that has one.
    private void Validate(AlgorithmRecord record) =>
        _ = Supervision.Supervisor.Run($"The validation of algorithm {record.Name}", ct => ValidateAsync(record.Name, ct), logger, _shutdown.Token);

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
            Validate(record);
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
    private async Task ValidateAsync(string name, CancellationToken cancellationToken)
    {
        if (store.Update(name, a => a with { Status = AlgorithmStatus.InProgress }) is not { } record)
        {
            return;
        }

        var spec = record.Definition.TrainingSpecification;
        var profiles = record.Definition.ValidationSpecification!.ValidationProfiles;
        var results = await Task.WhenAll(profiles.Select(p => ValidateProfileAsync(record, spec, p, cancellationToken))).ConfigureAwait(false);
        store.Update(record.Name, a => a with
        {
            Status = results.All(r => r.Status == DetailedAlgorithmStatus.Completed) ? AlgorithmStatus.Completed : AlgorithmStatus.Failed,
        });
        LogValidated(logger, record.Name, results.Count(r => r.Status == DetailedAlgorithmStatus.Completed), results.Length);
    }

    private async Task<ProfileValidation> ValidateProfileAsync(AlgorithmRecord record, TrainingSpecification spec, AlgorithmValidationProfile profile, CancellationToken cancellationToken)
    {
        ProfileValidation SetStatus(DetailedAlgorithmStatus status, string? reason = null, string? jobName = null)
        {
            var item = new ProfileValidation { Name = profile.ProfileName, Status = status, FailureReason = reason, JobName = jobName };
            store.Update(record.Name, a => a with { Validations = a.Validations.Select(s => s.Name == profile.ProfileName ? item with { JobName = jobName ?? s.JobName } : s).ToImmutableList() });
            return item;
        }

        // Resumed: a settled profile stays settled, and one whose job exists follows that job.
        var earlier = store.Get(record.Name)?.Validations.FirstOrDefault(v => v.Name == profile.ProfileName);
        if (earlier is { Status: DetailedAlgorithmStatus.Completed or DetailedAlgorithmStatus.Failed })
        {
            return earlier;
        }

        if (earlier is { Status: DetailedAlgorithmStatus.InProgress, JobName: { } started })
        {
            return await FollowAsync(started, SetStatus, cancellationToken).ConfigureAwait(false);
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
            await jobs.CreateAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (ApiException e)
        {
            return SetStatus(DetailedAlgorithmStatus.Failed, $"The validation training job could not be created: {e.ErrorType}: {e.Message}");
        }

        return await FollowAsync(name, SetStatus, cancellationToken).ConfigureAwait(false);
    }

    // Until the profile's job ends; its end settles the profile.
    private async Task<ProfileValidation> FollowAsync(string jobName, Func<DetailedAlgorithmStatus, string?, string?, ProfileValidation> setStatus, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (jobs.Store.Get(jobName))
            {
                case null:
                    return setStatus(DetailedAlgorithmStatus.Failed, $"Validation training job {jobName} no longer exists.", null);
                case { IsTerminal: true } job:
                    return job.Status == TrainingJobStatus.Completed
                        ? setStatus(DetailedAlgorithmStatus.Completed, null, null)
                        : setStatus(DetailedAlgorithmStatus.Failed, $"Validation training job {jobName} ended {job.Status}: {job.FailureReason}", null);
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
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
