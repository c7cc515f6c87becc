using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Trainyard.Model;

namespace Trainyard.Cli;

/// <summary><c>trainyard algorithms create|describe|list|delete</c> against a running server.</summary>
internal static class AlgorithmsCommand
{
    public static Command Create()
    {
        var command = new Command("algorithms", "Publish algorithms (CreateAlgorithm), watch their validation, and list or delete them");
        command.Subcommands.Add(CreateCommand());
        command.Subcommands.Add(Describe());
        command.Subcommands.Add(List());
        command.Subcommands.Add(Delete());
        return command;
    }

    private static Command CreateCommand()
    {
        var file = new Argument<string>("file") { Description = "A CreateAlgorithm request as JSON; a relative TrainingImage (./algorithm) and relative file:// URIs are resolved against the file's directory" };
        var wait = new Option<bool>("--wait") { Description = "Wait until validation has ended and print the result" };
        var command = new Command("create", "Create an algorithm; its validation profiles run as real training jobs") { file, wait, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            var path = Path.GetFullPath(result.GetValue(file)!);
            var dir = Path.GetDirectoryName(path)!;
            var request = JobFile.ReadObject(path, "a CreateAlgorithm request");
            JobFile.ResolveImage(request["TrainingSpecification"], dir);
            JobFile.ResolveFileUris(request, dir);
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            var created = JsonNode.Parse(await client.CallAsync("SageMaker.CreateAlgorithm", request.ToJsonString(), ct).ConfigureAwait(false))!;
            var name = request["AlgorithmName"]!.GetValue<string>();
            Terminal.Console.MarkupLine($"[green]Created[/] {Markup.Escape(created["AlgorithmArn"]!.GetValue<string>())}");
            if (!result.GetValue(wait))
            {
                return 0;
            }

            var last = "";
            while (true)
            {
                var described = JsonNode.Parse(await client.CallAsync("SageMaker.DescribeAlgorithm", new JsonObject { ["AlgorithmName"] = name }.ToJsonString(), ct).ConfigureAwait(false))!;
                var status = described["AlgorithmStatus"]!.GetValue<string>();
                if (status != last)
                {
                    Terminal.Console.MarkupLine($"[grey]{DateTime.Now:HH:mm:ss}[/] {Markup.Escape(status)}");
                    last = status;
                }

                if (status is "Completed" or "Failed")
                {
                    foreach (var item in described["AlgorithmStatusDetails"]?["ValidationStatuses"]?.AsArray() ?? [])
                    {
                        Terminal.Console.MarkupLine($"  profile {Markup.Escape(item!["Name"]!.GetValue<string>())}: {Markup.Escape(item["Status"]!.GetValue<string>())} {Markup.Escape(item["FailureReason"]?.GetValue<string>() ?? "")}");
                    }

                    return status == "Completed" ? 0 : 1;
                }

                await Task.Delay(500, ct).ConfigureAwait(false);
            }
        });
        return command;
    }

    private static Command Describe()
    {
        var name = new Argument<string>("name") { Description = "Algorithm name or ARN" };
        var command = new Command("describe", "Print DescribeAlgorithm's answer as JSON") { name, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            var json = await client.CallAsync("SageMaker.DescribeAlgorithm", new JsonObject { ["AlgorithmName"] = result.GetValue(name) }.ToJsonString(), ct).ConfigureAwait(false);
            using var doc = JsonDocument.Parse(json);
            Console.WriteLine(JsonSerializer.Serialize(doc.RootElement, TrainyardCliJsonContext.Default.JsonElement));
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List algorithms") { CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            var table = new Table().AddColumns("Name", "Status", "Created", "Description");
            string? token = null;
            do
            {
                var body = new JsonObject { ["MaxResults"] = 100, ["SortBy"] = "Name", ["SortOrder"] = "Ascending" };
                if (token is not null)
                {
                    body["NextToken"] = token;
                }

                var page = JsonSerializer.Deserialize(await client.CallAsync("SageMaker.ListAlgorithms", body.ToJsonString(), ct).ConfigureAwait(false), TrainyardJsonContext.Default.ListAlgorithmsOutput)!;
                foreach (var a in page.AlgorithmSummaryList)
                {
                    table.AddRow(Markup.Escape(a.AlgorithmName), Markup.Escape(a.AlgorithmStatus), a.CreationTime.LocalDateTime.ToString("g", CultureInfo.InvariantCulture), Markup.Escape(a.AlgorithmDescription ?? ""));
                }

                token = page.NextToken;
            }
            while (token is not null);
            Terminal.Console.Write(table);
            return 0;
        });
        return command;
    }

    private static Command Delete()
    {
        var name = new Argument<string>("name") { Description = "Algorithm name" };
        var command = new Command("delete", "Delete an algorithm") { name, CommonOptions.Endpoint };
        command.SetAction(async (result, ct) =>
        {
            using var client = new SageMakerClient(new Uri(result.GetValue(CommonOptions.Endpoint)!));
            await client.CallAsync("SageMaker.DeleteAlgorithm", new JsonObject { ["AlgorithmName"] = result.GetValue(name) }.ToJsonString(), ct).ConfigureAwait(false);
            Console.WriteLine($"Deleted {result.GetValue(name)}.");
            return 0;
        });
        return command;
    }
}
