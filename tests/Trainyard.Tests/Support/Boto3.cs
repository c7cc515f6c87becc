using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Trainyard.Tests.Support;

/// <summary>
/// Debian's python3-boto3 (boto3 1.26 / botocore 1.29, what the SageMaker SDK v2 runs on here) running a
/// script against a Trainyard server. The script reads the endpoint from <c>ENDPOINT</c>; the credentials
/// and region are set; whatever it prints on its last line is parsed as JSON.
/// </summary>
public static class Boto3
{
    public const string Python = "/usr/bin/python3";

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(Uri endpoint, string script, IReadOnlyDictionary<string, string>? environment = null,
        params string[] args)
    {
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["ENDPOINT"] = endpoint.ToString().TrimEnd('/');
        psi.Environment["AWS_ACCESS_KEY_ID"] = "AKIDTRAINYARDTEST";
        psi.Environment["AWS_SECRET_ACCESS_KEY"] = "secret";
        psi.Environment["AWS_DEFAULT_REGION"] = "us-east-1";
        psi.Environment.Remove("AWS_CA_BUNDLE");
        psi.Environment.Remove("AWS_PROFILE");
        psi.Environment.Remove("PYTHONPATH");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs the script, asserts it succeeded and parses its last output line as JSON.</summary>
    public static async Task<JsonNode> JsonAsync(Uri endpoint, string script, params string[] args)
    {
        var (code, stdout, stderr) = await RunAsync(endpoint, script, null, args);
        Assert.True(code == 0, $"the boto3 script exited {code}: {stderr}\n{stdout}");
        var last = stdout.TrimEnd().Split('\n')[^1];
        return JsonNode.Parse(last)!;
    }
}
