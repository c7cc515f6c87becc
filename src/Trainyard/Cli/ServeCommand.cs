using System.CommandLine;
using Trainyard.Api;

namespace Trainyard.Cli;

internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port") { Description = "TCP port to listen on", DefaultValueFactory = _ => 8080 };
        var bind = new Option<string>("--bind") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var command = new Command("serve", "Serve SageMaker's training API (AWS JSON 1.1) for the AWS CLI, boto3 and the SDKs (--endpoint-url)") { port, bind };
        CommonOptions.AddServerOptions(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = CommonOptions.Build(result);
            TrainyardServer started;
            try
            {
                started = await TrainyardServer.StartAsync(options, result.GetValue(bind)!, result.GetValue(port), objectStore: CommonOptions.Store(options), cancellationToken: cancellationToken, executors: CommonOptions.Executors(result)).ConfigureAwait(false);
            }
            catch (Trainyard.Persistence.HomeLockedException e)
            {
                throw new CliException($"{e.Message.TrimEnd('.')}: one server per home. Stop it first, or give this one another --home.");
            }
            catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"cannot listen on {result.GetValue(bind)}:{result.GetValue(port)}: {e.Message.TrimEnd('.')}. Is another server running there? Choose another --port.");
            }

            await using var server = started;
            Console.Error.WriteLine($"Trainyard is serving SageMaker's training API at {server.Address} (home {options.Home}, objects {options.ObjectStoreDirectory}, executor {options.Executor}).");
            Console.Error.WriteLine($"Try: aws sagemaker list-training-jobs --endpoint-url {server.Address}");
            await server.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            Console.Error.WriteLine("Shutting down: stopping running jobs.");
            return 0;
        });
        return command;
    }
}
