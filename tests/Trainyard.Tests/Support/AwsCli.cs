using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Trainyard.Tests.Support;

/// <summary>Debian's AWS CLI v2 (/usr/bin/aws) pointed at a Trainyard server.</summary>
public static class AwsCli
{
    public const string Path = "/usr/bin/aws";

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Uri endpoint, params string[] args) =>
        RunAsync(endpoint, clientValidation: true, args);

    /// <summary>Runs the CLI; without <paramref name="clientValidation"/> botocore sends bad values on to the server.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Uri endpoint, bool clientValidation, params string[] args)
    {
        var psi = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.ArgumentList.Add("--endpoint-url");
        psi.ArgumentList.Add(endpoint.ToString().TrimEnd('/'));
        psi.ArgumentList.Add("--output");
        psi.ArgumentList.Add("json");
        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDTRAINYARDTEST";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "secret";
        psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        psi.Environment["AWS_PAGER"] = "";
        psi.Environment.Remove("AWS_CA_BUNDLE");
        psi.Environment.Remove("AWS_PROFILE");
        if (!clientValidation)
        {
            var config = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "trainyard-aws-config-novalidation");
            File.WriteAllText(config, "[default]\nparameter_validation = false\n");
            psi.Environment["AWS_CONFIG_FILE"] = config;
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    public static async Task<JsonNode> JsonAsync(Uri endpoint, params string[] args)
    {
        var (code, stdout, stderr) = await RunAsync(endpoint, args);
        Assert.True(code == 0, $"aws {string.Join(' ', args)} exited {code}: {stderr}");
        return JsonNode.Parse(stdout.Length == 0 ? "{}" : stdout)!;
    }
}
