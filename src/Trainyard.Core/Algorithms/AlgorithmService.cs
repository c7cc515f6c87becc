using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Trainyard.Jobs;
using Trainyard.Model;

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
            Arn = ArnOf(input.AlgorithmName),
            Definition = input,
            CreationTime = DateTimeOffset.UtcNow,
            Status = profiles.Count == 0 ? "Completed" : "Pending",
            ValidationStatuses = [.. profiles.Select(p => new AlgorithmStatusItem { Name = p.ProfileName, Status = "NotStarted" })],
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
        if (record.Status is "Pending" or "InProgress")
        {
            throw new ApiValidationException($"The algorithm {record.Name} is being validated ({record.Status}); delete it when validation has ended.");
        }

        store.Delete(record.Name);
    }

    /// <summary>Runs the profiles concurrently (capacity permitting) and settles the algorithm's status.</summary>
    private async Task ValidateAsync(AlgorithmRecord record)
    {
        store.Update(record.Name, a => a with { Status = "InProgress" });
        var spec = record.Definition.TrainingSpecification;
        var profiles = record.Definition.ValidationSpecification!.ValidationProfiles;
        var results = await Task.WhenAll(profiles.Select(p => ValidateProfileAsync(record, spec, p))).ConfigureAwait(false);
        store.Update(record.Name, a => a with
        {
            Status = results.All(r => r.Status == "Completed") ? "Completed" : "Failed",
            ValidationStatuses = [.. results],
        });
        LogValidated(logger, record.Name, results.Count(r => r.Status == "Completed"), results.Length);
    }

    private async Task<AlgorithmStatusItem> ValidateProfileAsync(AlgorithmRecord record, TrainingSpecification spec, AlgorithmValidationProfile profile)
    {
        void SetStatus(string status, string? reason = null) => store.Update(record.Name, a => a with
        {
            ValidationStatuses = a.ValidationStatuses.Select(s => s.Name == profile.ProfileName ? new AlgorithmStatusItem { Name = s.Name, Status = status, FailureReason = reason } : s).ToImmutableList(),
        });

        var definition = profile.TrainingJobDefinition;
        var (problems, hyperParameters) = AlgorithmChecks.CheckJob(record.Name, spec, definition.TrainingInputMode, definition.HyperParameters, definition.InputDataConfig, definition.ResourceConfig);
        if (problems.Count > 0)
        {
            var reason = "The profile's TrainingJobDefinition does not fit the algorithm: " + string.Join(" ", problems);
            SetStatus("Failed", reason);
            return new AlgorithmStatusItem { Name = profile.ProfileName, Status = "Failed", FailureReason = reason };
        }

        SetStatus("InProgress");
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

        try
        {
            await jobs.CreateAsync(request, CancellationToken.None).ConfigureAwait(false);
            while (jobs.Store.Get(name) is not { IsTerminal: true })
            {
                await Task.Delay(100).ConfigureAwait(false);
            }

            var job = jobs.Store.Get(name)!;
            var item = job.Status == JobStatus.Completed
                ? new AlgorithmStatusItem { Name = profile.ProfileName, Status = "Completed" }
                : new AlgorithmStatusItem { Name = profile.ProfileName, Status = "Failed", FailureReason = $"Validation training job {name} ended {job.Status}: {job.FailureReason}" };
            SetStatus(item.Status, item.FailureReason);
            return item;
        }
        catch (ApiException e)
        {
            var reason = $"The validation training job could not be created: {e.ErrorType}: {e.Message}";
            SetStatus("Failed", reason);
            return new AlgorithmStatusItem { Name = profile.ProfileName, Status = "Failed", FailureReason = reason };
        }
    }

    public (List<AlgorithmRecord> Page, string? NextToken) List(ListAlgorithmsInput input)
    {
        var sortBy = input.SortBy ?? "CreationTime";
        var descending = (input.SortOrder ?? "Ascending") == "Descending";
        var matching = store.All
            .Where(a => input.NameContains is null || a.Name.Contains(input.NameContains, StringComparison.OrdinalIgnoreCase))
            .Where(a => input.CreationTimeAfter is null || a.CreationTime > input.CreationTimeAfter)
            .Where(a => input.CreationTimeBefore is null || a.CreationTime < input.CreationTimeBefore);
        var ordered = (sortBy == "Name"
                ? matching.OrderBy(a => a.Name, StringComparer.Ordinal)
                : matching.OrderBy(a => a.CreationTime).ThenBy(a => a.Name, StringComparer.Ordinal))
            .ToList();
        if (descending)
        {
            ordered.Reverse();
        }

        var start = 0;
        if (!string.IsNullOrEmpty(input.NextToken))
        {
            var at = ordered.FindIndex(a => a.Name == input.NextToken);
            if (at < 0)
            {
                throw new ApiValidationException("The NextToken is not valid for this request.");
            }

            start = at + 1;
        }

        var max = input.MaxResults ?? 10;
        var page = ordered.Skip(start).Take(max).ToList();
        var next = start + page.Count < ordered.Count && page.Count > 0 ? page[^1].Name : null;
        return (page, next);
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Algorithm {Algorithm}: {Passed} of {Total} validation profiles passed")]
    private static partial void LogValidated(ILogger logger, string algorithm, int passed, int total);
}
