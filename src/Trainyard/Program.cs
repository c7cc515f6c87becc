using System.CommandLine;
using Trainyard.Cli;
using Trainyard.Model;

var root = new RootCommand("Trainyard runs Amazon SageMaker training jobs on your own machines, unchanged.")
{
    RunCommand.Create(),
    ServeCommand.Create(),
    JobsCommand.Create(),
    AlgorithmsCommand.Create(),
    HostCommand.Create(),
    ImagesCommand.Create(),
};

try
{
    // Ctrl-C is each command's business: run stops the job gracefully, serve drains.
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (CliException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
catch (ApiException e)
{
    Console.Error.WriteLine($"{e.ErrorType}: {e.Message}");
    return 2;
}
catch (HttpRequestException e)
{
    Console.Error.WriteLine($"error: cannot reach the Trainyard server ({e.Message}). Is `trainyard serve` running? Set --endpoint-url or TRAINYARD_ENDPOINT.");
    return 2;
}
