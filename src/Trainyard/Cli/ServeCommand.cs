using System.CommandLine;
using Trainyard.Api;

namespace Trainyard.Cli;

internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port") { Description = "TCP port to listen on", DefaultValueFactory = _ => 8080 };
        var bind = new Option<string>("--bind") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var credentialsFile = new Option<string[]>("--credentials-file")
        {
            Description = "An AWS shared-credentials file: each profile's aws_access_key_id / aws_secret_access_key may call the server, and every request must carry a valid SigV4 signature (repeatable; re-read when it changes)",
            AllowMultipleArgumentsPerToken = false,
        };
        var allowAnonymous = new Option<bool>("--allow-anonymous") { Description = "Listen on a non-loopback --bind address without --credentials-file (anyone who reaches the port can run any program as this server's user)" };
        var stopJobsOnExit = new Option<bool>("--stop-jobs-on-exit") { Description = "Stop every running job when the server stops, local or Slurm (they are otherwise left running for the next start to follow)" };
        var tlsCert = new Option<string?>("--tls-cert") { Description = "Serve HTTPS with this PEM certificate (with --tls-key)" };
        var tlsKey = new Option<string?>("--tls-key") { Description = "The PEM private key of --tls-cert" };
        var command = new Command("serve", "Serve SageMaker's training API (AWS JSON 1.1) for the AWS CLI, boto3 and the SDKs (--endpoint-url)") { port, bind, credentialsFile, allowAnonymous, stopJobsOnExit, tlsCert, tlsKey };
        CommonOptions.AddServerOptions(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            var credentials = result.GetValue(credentialsFile) ?? [];
            var address = result.GetValue(bind)!;
            if (credentials.Length == 0 && !result.GetValue(allowAnonymous) && !IsLoopback(address))
            {
                throw new CliException($"--bind {address} would let anyone who reaches the port run any program as this server's user: give --credentials-file FILE (SigV4 signatures required), or --allow-anonymous if that is what you want.");
            }

            if (result.GetValue(tlsCert) is null != result.GetValue(tlsKey) is null)
            {
                throw new CliException("--tls-cert and --tls-key go together.");
            }

            foreach (var file in credentials.Concat(new[] { result.GetValue(tlsCert), result.GetValue(tlsKey) }.OfType<string>()))
            {
                if (!File.Exists(file))
                {
                    throw new CliException($"{file} does not exist.");
                }
            }

            var options = CommonOptions.Build(result) with
            {
                CredentialsFiles = [.. credentials.Select(Path.GetFullPath)],
                TlsCertificate = result.GetValue(tlsCert) is { } cert ? Path.GetFullPath(cert) : null,
                TlsKey = result.GetValue(tlsKey) is { } key ? Path.GetFullPath(key) : null,
                StopJobsOnExit = result.GetValue(stopJobsOnExit),
            };
            TrainyardServer started;
            try
            {
                started = await TrainyardServer.StartAsync(options, result.GetValue(bind)!, result.GetValue(port), objectStore: CommonOptions.Store(options), cancellationToken: cancellationToken, executors: CommonOptions.Executors(result)).ConfigureAwait(false);
            }
            catch (InvalidDataException e)
            {
                throw new CliException(e.Message);
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
            Console.Error.WriteLine(options.CredentialsFiles.Count > 0
                ? $"Requests must be signed (SigV4) by an identity of {string.Join(", ", options.CredentialsFiles)}."
                : "Requests are not authenticated (give --credentials-file to require signatures).");
            Console.Error.WriteLine($"Try: aws sagemaker list-training-jobs --endpoint-url {server.Address}");
            await server.WaitForShutdownAsync(CancellationToken.None).ConfigureAwait(false);
            Console.Error.WriteLine(options.StopJobsOnExit || (options.Executor == "local" && options.HostExecutable is null)
                ? "Shutting down: stopping running jobs."
                : $"Shutting down: running jobs ({options.Executor} executor) keep running, and the next start follows them (--stop-jobs-on-exit stops them).");
            return 0;
        });
        return command;
    }

    private static bool IsLoopback(string address) =>
        address is "localhost" || (System.Net.IPAddress.TryParse(address, out var ip) && System.Net.IPAddress.IsLoopback(ip));
}
