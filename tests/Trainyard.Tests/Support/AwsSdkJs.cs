using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Trainyard.Tests.Support;

/// <summary>
/// The AWS SDK for JavaScript v3 (npm <c>@aws-sdk/client-cloudwatch-logs</c>, <c>@aws-sdk/client-s3</c>)
/// running a Node script against a Trainyard server; <c>./test.sh</c> installs the clients with
/// <c>.ci/setup-aws-sdk-js.sh</c>. The script reads the endpoint from <c>ENDPOINT</c> and prints JSON on its last line.
/// </summary>
public static class AwsSdkJs
{
    public static string Modules => Path.Combine(TrainyardCli.RepositoryRoot, ".ci", "aws-sdk-js", "node_modules");

    public static async Task<JsonNode> JsonAsync(Uri endpoint, string script, params string[] args)
    {
        Assert.True(Directory.Exists(Path.Combine(Modules, "@aws-sdk", "client-s3")) && Directory.Exists(Path.Combine(Modules, "@aws-sdk", "client-cloudwatch-logs")),
            $"The AWS SDK for JavaScript is not installed under {Modules}: run .ci/setup-aws-sdk-js.sh (./test.sh does).");
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-e");
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add("--");
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["NODE_PATH"] = Modules;
        psi.Environment["ENDPOINT"] = endpoint.ToString().TrimEnd('/');
        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDTRAINYARDTEST";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "secret";
        psi.Environment["AWS_REGION"] = "us-east-1";
        psi.Environment.Remove("AWS_CA_BUNDLE");
        psi.Environment.Remove("AWS_PROFILE");
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout;
        Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await stderr}\n{output}");
        return JsonNode.Parse(output.TrimEnd().Split('\n')[^1])!;
    }
}
