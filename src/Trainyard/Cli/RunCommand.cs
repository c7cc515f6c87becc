using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Trainyard.Api;
using Trainyard.DataPlane;
using Trainyard.Jobs;
using Trainyard.Model;
using Trainyard.Storage;

namespace Trainyard.Cli;

/// <summary>
/// <c>trainyard run JOB.json</c>: runs one job to its end on an embedded server (or on a running one
/// with --endpoint-url), printing status changes and the hosts' logs live. Ctrl-C stops the job
/// gracefully (SIGTERM, grace period, artifacts uploaded); a second Ctrl-C leaves at once.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("job") { Description = "A CreateTrainingJob request as JSON (TrainingJobName gets a timestamp suffix)" };
        var name = new Option<string?>("--name") { Description = "Exact TrainingJobName to use (no suffix)" };
        var endpoint = new Option<string?>("--endpoint-url") { Description = "Submit to a running server instead of an embedded one (logs are read through its CloudWatch Logs API)" };
        var command = new Command("run", "Run a training job end to end and follow it: status, logs, metrics, artifacts") { file, name, endpoint };
        CommonOptions.AddServerOptions(command);
        command.SetAction(async (result, _) =>
        {
            var options = CommonOptions.Build(result);
            var job = JobFile.Load(result.GetValue(file)!, result.GetValue(name), exactName: false);
            if (result.GetValue(endpoint) is { } url)
            {
                return await RunRemoteAsync(new Uri(url), options, job.ToJsonString()).ConfigureAwait(false);
            }

            while (true)
            {
                try
                {
                    return await RunEmbeddedAsync(options, job.ToJsonString(), CommonOptions.Executors(result)).ConfigureAwait(false);
                }
                catch (Trainyard.Persistence.HomeLockedException e)
                {
                    if (await ServerHoldingAsync(e, options.Home).ConfigureAwait(false) is { } server)
                    {
                        Console.Error.WriteLine($"The home {options.Home} is served by {e.Holder}: submitting the job to it.");
                        return await RunRemoteAsync(server, options, job.ToJsonString()).ConfigureAwait(false);
                    }

                    Console.Error.WriteLine($"{e.Message.TrimEnd('.')}: waiting for it to finish (or give this run another --home).");
                    await WaitForHomeAsync(options.Home).ConfigureAwait(false);
                }
            }
        });
        return command;
    }

    /// <summary>
    /// The endpoint of the <c>serve</c> that holds the home, once it has said where it listens (a server
    /// that has just taken the home says so within moments); null when a <c>run</c> holds it.
    /// </summary>
    private static async Task<Uri?> ServerHoldingAsync(Trainyard.Persistence.HomeLockedException e, string home)
    {
        var holder = e.Holder;
        for (var i = 0; i < 300 && (holder is null || (holder.Owner == "serve" && holder.Endpoint is null)); i++)
        {
            await Task.Delay(100).ConfigureAwait(false);
            holder = Trainyard.Persistence.HomeLock.ReadHolder(home);
        }

        return holder is { Owner: "serve", Endpoint: { } endpoint } ? new Uri(endpoint) : null;
    }

    // Until the home's lock is free: try to take it now and then, and let it go at once.
    private static async Task WaitForHomeAsync(string home)
    {
        while (true)
        {
            try
            {
                Trainyard.Persistence.HomeLock.Acquire(home, "run").Dispose();
                return;
            }
            catch (Trainyard.Persistence.HomeLockedException)
            {
                await Task.Delay(500).ConfigureAwait(false);
            }
        }
    }

    private static async Task<int> RunEmbeddedAsync(TrainyardOptions options, string requestJson,
        IReadOnlyDictionary<string, Func<IServiceProvider, Trainyard.Executors.IExecutor>> executors)
    {
        var console = Terminal.Console;
        await using var server = await TrainyardServer.StartAsync(options, objectStore: CommonOptions.Store(options), executors: executors, owner: "run").ConfigureAwait(false);
        var jobName = System.Text.Json.Nodes.JsonNode.Parse(requestJson)!["TrainingJobName"]!.GetValue<string>();
        var done = new TaskCompletionSource<JobRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        var printLock = new Lock();
        (SecondaryStatus, string)? lastSecondary = null;
        var hosts = 1;
        var lastProgress = DateTime.MinValue;

        server.Store.Changed += record =>
        {
            if (!string.Equals(record.Name, jobName, StringComparison.OrdinalIgnoreCase))
            {
                return;
            }

            lock (printLock)
            {
                if ((record.SecondaryStatus, record.StatusMessage) != lastSecondary)
                {
                    lastSecondary = (record.SecondaryStatus, record.StatusMessage);
                    console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] [bold]{record.Status}[/] - [blue]{record.SecondaryStatus}[/] {Markup.Escape(record.StatusMessage)}");
                }
            }

            if (record.IsTerminal)
            {
                done.TrySetResult(record);
            }
        };
        server.Jobs.RunnerStarted += runner =>
        {
            if (!string.Equals(runner.Name, jobName, StringComparison.OrdinalIgnoreCase))
            {
                return;
            }

            hosts = runner.Job.Definition.ResourceConfig.InstanceCount ?? 1;
            runner.LogLine += (host, line) =>
            {
                lock (printLock)
                {
                    var prefix = hosts > 1 ? $"[{host}] " : "";
                    if (line.StartsWith("[trainyard]", StringComparison.Ordinal))
                    {
                        console.MarkupLine($"[grey]{Markup.Escape(prefix + line)}[/]");
                    }
                    else
                    {
                        console.WriteLine(prefix + line);
                    }
                }
            };
            runner.ImageProgress += (host, p) =>
            {
                lock (printLock)
                {
                    if (p.LayersDone != p.LayersTotal && (DateTime.UtcNow - lastProgress).TotalMilliseconds < 500)
                    {
                        return;
                    }

                    lastProgress = DateTime.UtcNow;
                    console.MarkupLine($"[grey]{Markup.Escape($"[{host}] " + ImagesCommand.ProgressLine(p))}[/]");
                }
            };
            runner.Progress += (host, bytes, total, n, count) =>
            {
                lock (printLock)
                {
                    if (n != count && (DateTime.UtcNow - lastProgress).TotalMilliseconds < 500)
                    {
                        return;
                    }

                    lastProgress = DateTime.UtcNow;
                    console.MarkupLine($"[grey]{Markup.Escape(ProgressBar(host, bytes, total, n, count))}[/]");
                }
            };
        };

        var interrupts = 0;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (Interlocked.Increment(ref interrupts) == 1)
            {
                e.Cancel = true;
                console.MarkupLine("[yellow]Stopping the job (SIGTERM to the algorithm, then the grace period; Ctrl-C again to leave at once)…[/]");
                try
                {
                    server.Jobs.Stop(jobName);
                }
                catch (ApiException)
                {
                    // already ended
                }
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            using var client = new SageMakerClient(server.Address);
            try
            {
                var created = await client.CreateTrainingJobAsync(requestJson, CancellationToken.None).ConfigureAwait(false);
                console.MarkupLine($"[green]Created[/] {Markup.Escape(created.TrainingJobArn)}");
                console.MarkupLine($"[grey]Endpoint {server.Address} (aws sagemaker describe-training-job --training-job-name {Markup.Escape(jobName)} --endpoint-url {server.Address})[/]");
            }
            catch (ApiException e)
            {
                console.MarkupLine($"[red]{Markup.Escape(e.ErrorType)}[/]: {Markup.Escape(e.Message)}");
                return 2;
            }

            var final = await done.Task.ConfigureAwait(false);
            PrintSummary(console, final, options);
            return final.Status == TrainingJobStatus.Completed ? 0 : 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Follows a job on a running server: status by polling Describe, logs through GetLogEvents.</summary>
    private static async Task<int> RunRemoteAsync(Uri endpoint, TrainyardOptions options, string requestJson)
    {
        var console = Terminal.Console;
        var jobName = System.Text.Json.Nodes.JsonNode.Parse(requestJson)!["TrainingJobName"]!.GetValue<string>();
        using var client = new SageMakerClient(endpoint);
        try
        {
            var created = await client.CreateTrainingJobAsync(requestJson, CancellationToken.None).ConfigureAwait(false);
            console.MarkupLine($"[green]Created[/] {Markup.Escape(created.TrainingJobArn)}");
        }
        catch (ApiException e)
        {
            console.MarkupLine($"[red]{Markup.Escape(e.ErrorType)}[/]: {Markup.Escape(e.Message)}");
            return 2;
        }

        using var stopping = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (!stopping.IsCancellationRequested)
            {
                e.Cancel = true;
                stopping.Cancel();
                console.MarkupLine("[yellow]Stopping the job…[/]");
                _ = client.StopTrainingJobAsync(jobName, CancellationToken.None);
            }
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var logs = LogTail.RunAsync(client, jobName, follow: true, async ct =>
            {
                var d = await client.DescribeTrainingJobAsync(jobName, ct).ConfigureAwait(false);
                return IsTerminal(d.TrainingJobStatus);
            }, CancellationToken.None);
            var last = "";
            DescribeTrainingJobResponse job;
            while (true)
            {
                job = await client.DescribeTrainingJobAsync(jobName, CancellationToken.None).ConfigureAwait(false);
                var message = job.SecondaryStatusTransitions?.LastOrDefault()?.StatusMessage ?? "";
                if (job.SecondaryStatus + message != last)
                {
                    last = job.SecondaryStatus + message;
                    console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] [bold]{Markup.Escape(job.TrainingJobStatus)}[/] - [blue]{Markup.Escape(job.SecondaryStatus)}[/] {Markup.Escape(message)}");
                }

                if (IsTerminal(job.TrainingJobStatus))
                {
                    break;
                }

                await Task.Delay(250).ConfigureAwait(false);
            }

            await logs.ConfigureAwait(false);
            console.MarkupLine($"[bold]{Markup.Escape(job.TrainingJobStatus)}[/] {Markup.Escape(jobName)}");
            if (job.FailureReason is not null)
            {
                console.MarkupLine($"[red]FailureReason:[/] {Markup.Escape(job.FailureReason)}");
            }

            foreach (var metric in job.FinalMetricDataList ?? [])
            {
                console.MarkupLine($"Metric {Markup.Escape(metric.MetricName)} = {metric.Value.ToString(CultureInfo.InvariantCulture)}");
            }

            console.MarkupLine($"Model artifacts: {Markup.Escape(job.ModelArtifacts.S3ModelArtifacts)}");
            return job.TrainingJobStatus == nameof(TrainingJobStatus.Completed) ? 0 : 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Whether a TrainingJobStatus the API answered is an end.</summary>
    internal static bool IsTerminal(string status) => Enum.TryParse<TrainingJobStatus>(status, out var s) && JobStateMachine.IsTerminal(s);

    private static string ProgressBar(string host, long bytes, long total, int n, int count)
    {
        const int Width = 30;
        var fraction = total == 0 ? 1.0 : bytes / (double)total;
        var filled = (int)Math.Round(fraction * Width);
        return string.Create(CultureInfo.InvariantCulture,
            $"[{host}] Downloading [{new string('#', filled)}{new string('.', Width - filled)}] {fraction * 100,5:F1}%  {FileChannelLoader.Format(bytes)} / {FileChannelLoader.Format(total)}  {n}/{count} objects");
    }

    private static void PrintSummary(IAnsiConsole console, JobRecord job, TrainyardOptions options)
    {
        var color = job.Status == TrainingJobStatus.Completed ? "green" : job.Status == TrainingJobStatus.Stopped ? "yellow" : "red";
        console.MarkupLine($"[{color} bold]{job.Status}[/] {Markup.Escape(job.Name)}");
        if (job.FailureReason is not null)
        {
            console.MarkupLine($"[red]FailureReason:[/] {Markup.Escape(job.FailureReason)}");
        }

        foreach (var metric in job.FinalMetrics)
        {
            console.MarkupLine($"Metric {Markup.Escape(metric.MetricName)} = {metric.Value.ToString(CultureInfo.InvariantCulture)}");
        }

        if (job.TrainingStartTime is { } start && job.TrainingEndTime is { } end)
        {
            console.MarkupLine($"Training time: {(end - start).TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s");
        }

        if (job.ModelArtifacts is { } model)
        {
            var local = S3Location.TryParse(model, out var location)
                ? new LocalObjectStore(options.ObjectStoreDirectory).PathOf(location)
                : null;
            console.MarkupLine($"Model artifacts: {Markup.Escape(model)}" + (local is not null && File.Exists(local) ? $" [grey]({Markup.Escape(local)})[/]" : ""));
        }

        console.MarkupLine($"[grey]Logs: {Markup.Escape(Path.Combine(options.JobDirectory(job.Name), "logs"))}[/]");
    }
}
