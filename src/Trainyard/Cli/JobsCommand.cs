using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Trainyard.Jobs;
using Trainyard.Model;

namespace Trainyard.Cli;

/// <summary><c>trainyard jobs list|describe|stop|logs</c> against a running server.</summary>
internal static class JobsCommand
{
    public static Command Create()
    {
        var command = new Command("jobs", "Look at and control the training jobs of a running server");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Describe());
        command.Subcommands.Add(Stop());
        command.Subcommands.Add(Logs());
        command.Subcommands.Add(Metrics());
        return command;
    }

    private static Command Metrics()
    {
        var name = new Argument<string>("name") { Description = "The training job's name" };
        var json = new Option<bool>("--json") { Description = "Print the series as JSON (Trainyard.GetTrainingJobMetrics)" };
        var command = new Command("metrics", "Print every value of every metric (MetricDefinitions) the job's logs produced") { name, json, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            var text = await client.CallAsync(Trainyard.Api.SageMakerApi.MetricsTarget,
                JsonSerializer.Serialize(new GetTrainingJobMetricsInput(result.GetValue(name)!), TrainyardJsonContext.Default.GetTrainingJobMetricsInput), ct).ConfigureAwait(false);
            if (result.GetValue(json))
            {
                using var doc = JsonDocument.Parse(text);
                Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, TrainyardCliJsonContext.Default.JsonElement));
                return 0;
            }

            var series = JsonSerializer.Deserialize(text, TrainyardJsonContext.Default.GetTrainingJobMetricsOutput)!;
            var table = new Table().AddColumns("Time", "Host", "Metric", "Value");
            foreach (var p in series.Metrics)
            {
                table.AddRow(p.Timestamp.LocalDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), Markup.Escape(p.Host), Markup.Escape(p.MetricName), p.Value.ToString(CultureInfo.InvariantCulture));
            }

            Terminal.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var status = new Option<string?>("--status") { Description = "Only jobs with this TrainingJobStatus" };
        var contains = new Option<string?>("--name-contains") { Description = "Only jobs whose name contains this" };
        var max = new Option<int>("--max") { Description = "At most this many jobs", DefaultValueFactory = _ => 50 };
        var command = new Command("list", "List training jobs, newest first") { CommonOptions.Endpoint, status, contains, max };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            var table = new Table().AddColumns("Name", "Status", "Created", "Ended");
            string? token = null;
            var left = result.GetValue(max);
            do
            {
                var page = await client.ListTrainingJobsAsync(new ListTrainingJobsRequest
                {
                    NextToken = token,
                    MaxResults = Math.Clamp(left, 1, 100),
                    StatusEquals = result.GetValue(status),
                    NameContains = result.GetValue(contains),
                }, ct).ConfigureAwait(false);
                foreach (var s in page.TrainingJobSummaries)
                {
                    table.AddRow(Markup.Escape(s.TrainingJobName), Markup.Escape(s.TrainingJobStatus),
                        s.CreationTime.LocalDateTime.ToString("g", CultureInfo.InvariantCulture), s.TrainingEndTime?.LocalDateTime.ToString("g", CultureInfo.InvariantCulture) ?? "");
                }

                left -= page.TrainingJobSummaries.Count;
                token = page.NextToken;
            }
            while (token is not null && left > 0);
            Terminal.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static Command Describe()
    {
        var name = new Argument<string>("name") { Description = "The training job's name" };
        var command = new Command("describe", "Print DescribeTrainingJob's answer as JSON") { name, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            var job = await client.DescribeTrainingJobAsync(result.GetValue(name)!, ct).ConfigureAwait(false);
            var json = JsonSerializer.Serialize(job, TrainyardJsonContext.Default.DescribeTrainingJobResponse);
            using var doc = JsonDocument.Parse(json);
            Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, TrainyardCliJsonContext.Default.JsonElement));
            return 0;
        });
        return command;
    }

    private static Command Stop()
    {
        var name = new Argument<string>("name") { Description = "The training job's name" };
        var command = new Command("stop", "Stop a job: SIGTERM to the algorithm, SIGKILL after the grace period; artifacts are still uploaded") { name, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            await client.StopTrainingJobAsync(result.GetValue(name)!, ct).ConfigureAwait(false);
            Console.WriteLine($"Stopping {result.GetValue(name)}.");
            return 0;
        });
        return command;
    }

    private static Command Logs()
    {
        var name = new Argument<string>("name") { Description = "The training job's name" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new lines until the job ends" };
        var command = new Command("logs", "Print the job's log streams (<job>/algo-N-<epoch>) through the server's CloudWatch Logs API") { name, follow, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            var job = result.GetValue(name)!;
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            return await LogTail.RunAsync(client, job, result.GetValue(follow), async token =>
            {
                try
                {
                    var d = await client.DescribeTrainingJobAsync(job, token).ConfigureAwait(false);
                    return RunCommand.IsTerminal(d.TrainingJobStatus);
                }
                catch (HttpRequestException)
                {
                    return true; // no server: nothing more will be written
                }
            }, ct).ConfigureAwait(false);
        });
        return command;
    }
}
