using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>
/// serve --credentials-file: every protocol on the port requires a valid SigV4 signature of an identity from
/// the file, and refuses in its own words — checked with the real clients (AWS CLI, boto3, the .NET SDK's
/// chunked uploads, presigned URLs) and with requests tampered after signing.
/// </summary>
public sealed class AuthTests
{
    private const string Key = "AKIDTRAINYARDTEST";
    private const string Secret = "secret";

    private static async Task<(TestServer Server, TempDirectory Dir)> StartAsync()
    {
        var dir = new TempDirectory("creds");
        dir.Write("credentials", $"[default]\naws_access_key_id = {Key}\naws_secret_access_key = {Secret}\n\n[other]\naws_access_key_id=AKIDOTHER\naws_secret_access_key=other-secret\n");
        var server = await TestServer.StartAsync(o => o with { CredentialsFiles = [dir["credentials"]] });
        return (server, dir);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> Cli(TestServer server, string key, string secret, params string[] args) =>
        Boto3.RunAsync(server.Address, "import sys\nfrom awscli.clidriver import main\nsys.exit(main())", new Dictionary<string, string> { ["AWS_ACCESS_KEY_ID"] = key, ["AWS_SECRET_ACCESS_KEY"] = secret }, args);

    [Fact]
    public async Task AwsCli_EveryProtocol_AcceptsTheIdentity_RefusesWrongSecretsAndUnknownKeys()
    {
        var (server, dir) = await StartAsync();
        await using var serverScope = server;
        using var dirScope = dir;
        dir.Write("f.txt", "hello");
        var ok = new (string[] Args, string WrongSecret, string UnknownKey)[]
        {
            (["sagemaker", "list-training-jobs"], "InvalidSignatureException", "UnrecognizedClientException"),
            (["logs", "describe-log-groups"], "InvalidSignatureException", "UnrecognizedClientException"),
            (["sts", "get-caller-identity"], "SignatureDoesNotMatch", "InvalidClientTokenId"),
            (["cloudwatch", "list-metrics", "--namespace", "/aws/sagemaker/TrainingJobs"], "SignatureDoesNotMatch", "InvalidClientTokenId"),
            (["s3api", "list-buckets"], "SignatureDoesNotMatch", "InvalidAccessKeyId"),
        };
        foreach (var (args, wrongSecret, unknownKey) in ok)
        {
            var endpointArgs = args.Concat(new[] { "--endpoint-url", server.Address.ToString().TrimEnd('/') }).ToArray();
            var (code, stdout, stderr) = await Cli(server, Key, Secret, endpointArgs);
            Assert.True(code == 0, $"{string.Join(' ', args)}: {stderr}{stdout}");
            (code, _, stderr) = await Cli(server, Key, "not-the-secret", endpointArgs);
            Assert.NotEqual(0, code);
            Assert.Contains(wrongSecret, stderr, StringComparison.Ordinal);
            (code, _, stderr) = await Cli(server, "AKIDNOBODY", Secret, endpointArgs);
            Assert.NotEqual(0, code);
            Assert.Contains(unknownKey, stderr, StringComparison.Ordinal);
        }

        // S3 as the CLI does it: a bucket, a multipart upload (signed payloads), a download.
        var big = Path.Combine(dir.Path, "big.bin");
        await File.WriteAllBytesAsync(big, new byte[12 << 20]);
        foreach (var args in new[] { new[] { "s3", "mb", "s3://signed" }, ["s3", "cp", "--only-show-errors", big, "s3://signed/big.bin"], ["s3", "cp", "--only-show-errors", "s3://signed/big.bin", big + ".back"] })
        {
            var (code, stdout, stderr) = await Cli(server, "AKIDOTHER", "other-secret", [.. args, "--endpoint-url", server.Address.ToString().TrimEnd('/')]);
            Assert.True(code == 0, $"{string.Join(' ', args)}: {stderr}{stdout}");
        }

        Assert.Equal(12 << 20, new FileInfo(big + ".back").Length);
    }

    [Fact]
    public async Task Unsigned_Tampered_Skewed_And_PresignedRequests_GetEachProtocolsError()
    {
        var (server, dir) = await StartAsync();
        await using var serverScope = server;
        using var dirScope = dir;
        using var http = new HttpClient { BaseAddress = server.Address };
        using (var unsigned = new StringContent("{}", Encoding.UTF8, "application/x-amz-json-1.1"))
        {
            unsigned.Headers.Add("X-Amz-Target", "SageMaker.ListTrainingJobs");
            using var response = await http.PostAsync("/", unsigned);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("MissingAuthenticationTokenException", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var form = new StringContent("Action=GetCallerIdentity&Version=2011-06-15", Encoding.UTF8, "application/x-www-form-urlencoded"))
        using (var response = await http.PostAsync("/", form))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("<Code>MissingAuthenticationToken</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var response = await http.GetAsync("/some-bucket?list-type=2"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Contains("<Code>AccessDenied</Code>", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        const string script = """
            import boto3, botocore, botocore.auth, botocore.config, datetime, json, os, time, urllib.request, urllib.error
            endpoint = os.environ["ENDPOINT"]
            out = {}
            def code(call):
                try:
                    call()
                    return "ok"
                except botocore.exceptions.ClientError as e:
                    return e.response["Error"]["Code"] + ": " + e.response["Error"].get("Message", "")
            sm = boto3.client("sagemaker", endpoint_url=endpoint)
            def tamper(request, **kwargs):
                request.body = request.body.replace(b"MaxResults", b"MaxResultz") if request.body else request.body
            sm.meta.events.register("before-send.sagemaker.ListTrainingJobs", tamper)
            out["tampered"] = code(lambda: sm.list_training_jobs(MaxResults=5))
            real = datetime.datetime
            class Skewed(real):
                @classmethod
                def utcnow(cls):
                    return real.utcnow() - datetime.timedelta(minutes=10)
            botocore.auth.datetime.datetime = Skewed
            out["skewedJson"] = code(lambda: boto3.client("sagemaker", endpoint_url=endpoint).list_training_jobs())
            out["skewedQuery"] = code(lambda: boto3.client("sts", endpoint_url=endpoint).get_caller_identity())
            out["skewedS3"] = code(lambda: boto3.client("s3", endpoint_url=endpoint).list_buckets())
            botocore.auth.datetime.datetime = real
            # boto3 1.26 presigns with SigV2 unless told otherwise; the server takes Signature Version 4 only.
            s3 = boto3.client("s3", endpoint_url=endpoint, config=botocore.config.Config(signature_version="s3v4"))
            s3.create_bucket(Bucket="pre")
            s3.put_object(Bucket="pre", Key="k", Body=b"presigned body")
            url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "k"}, ExpiresIn=60)
            out["presigned"] = urllib.request.urlopen(url).read().decode()
            def status(u):
                try:
                    urllib.request.urlopen(u)
                    return "200"
                except urllib.error.HTTPError as e:
                    return str(e.code) + " " + e.read().decode()
            out["presignedTampered"] = status(url.replace("/pre/k", "/pre/other"))
            short = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "k"}, ExpiresIn=1)
            time.sleep(2)
            out["presignedExpired"] = status(short)
            print(json.dumps(out))
            """;
        var result = await Boto3.JsonAsync(server.Address, script);
        Assert.StartsWith("InvalidSignatureException", result["tampered"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("InvalidSignatureException: Signature expired", result["skewedJson"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("SignatureDoesNotMatch: Signature expired", result["skewedQuery"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("RequestTimeTooSkewed", result["skewedS3"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("presigned body", result["presigned"]!.GetValue<string>());
        Assert.Contains("403", result["presignedTampered"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("SignatureDoesNotMatch", result["presignedTampered"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("Request has expired", result["presignedExpired"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>The .NET SDK signs every chunk of an aws-chunked upload and its trailer; a wrong secret fails, the right one stores the bytes.</summary>
    [Fact]
    public async Task DotNetSdk_SignedChunkedUploads_AreVerified()
    {
        var (server, dir) = await StartAsync();
        await using var serverScope = server;
        using var dirScope = dir;
        AmazonS3Client Client(string secret) => new(new BasicAWSCredentials(Key, secret),
            new AmazonS3Config { ServiceURL = server.Address.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1", MaxErrorRetry = 0 });
        using var good = Client(Secret);
        await good.PutBucketAsync("chunks");
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        await good.PutObjectAsync(new PutObjectRequest { BucketName = "chunks", Key = "o", InputStream = new MemoryStream(data), UseChunkEncoding = true, ChecksumAlgorithm = ChecksumAlgorithm.CRC32 });
        Assert.Equal(data, await File.ReadAllBytesAsync(Path.Combine(server.Objects, "chunks", "o")));
        using var bad = Client("wrong");
        var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => bad.PutObjectAsync(new PutObjectRequest { BucketName = "chunks", Key = "p", ContentBody = "x", UseChunkEncoding = true }));
        Assert.Equal("SignatureDoesNotMatch", refused.ErrorCode);
        Assert.False(File.Exists(Path.Combine(server.Objects, "chunks", "p")));
    }

    [Fact]
    public async Task CredentialsFile_IsReadAgainWhenItChanges_AndHostsSignWithTheServersHostIdentity()
    {
        var (server, dir) = await StartAsync();
        await using var serverScope = server;
        using var dirScope = dir;
        var (code, _, stderr) = await Cli(server, "AKIDLATER", "later", "sts", "get-caller-identity", "--endpoint-url", server.Address.ToString().TrimEnd('/'));
        Assert.Contains("InvalidClientTokenId", stderr, StringComparison.Ordinal);
        File.AppendAllText(dir["credentials"], "\n[later]\naws_access_key_id = AKIDLATER\naws_secret_access_key = later\n");
        await Poll.UntilAsync(() => Cli(server, "AKIDLATER", "later", "sts", "get-caller-identity", "--endpoint-url", server.Address.ToString().TrimEnd('/')).Result.ExitCode == 0,
            TimeSpan.FromSeconds(10), "the new identity to be accepted");

        server.PutObject("work", "in/x.txt", "from the store");
        using var algo = new TempDirectory();
        var image = TestJobs.Algorithm(algo, """
            #!/usr/bin/python3
            import os, boto3
            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
            s3.put_object(Bucket="work", Key="out/y.txt", Body=s3.get_object(Bucket="work", Key="in/x.txt")["Body"].read().upper())
            """);
        var name = TestJobs.UniqueName("signed-host");
        var (created, createdOut, createdErr) = await Cli(server, Key, Secret, "sagemaker", "create-training-job", "--cli-input-json", TestJobs.Request(name, image).ToJsonString(),
            "--endpoint-url", server.Address.ToString().TrimEnd('/'));
        Assert.True(created == 0, createdErr + createdOut);
        await Poll.UntilAsync(() => server.Server.Store.Get(name) is { IsTerminal: true }, TimeSpan.FromSeconds(60), "the job to end");
        var end = server.Server.Store.Get(name)!;
        Assert.True(end.Status == Trainyard.Jobs.TrainingJobStatus.Completed, end.FailureReason + server.LogOf(name));
        Assert.Equal(Key, end.CreatedBy);
        Assert.Equal("FROM THE STORE", File.ReadAllText(Path.Combine(server.Objects, "work", "out", "y.txt")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(server.Home, "host-credentials")));
    }

    [Fact]
    public async Task Serve_OnANonLoopbackAddressWithoutCredentials_IsRefused()
    {
        using var home = new TempDirectory("home");
        var (code, _, stderr) = await TrainyardCli.RunAsync(home.Path, "serve", "--home", home.Path, "--bind", "0.0.0.0", "--port", ServeProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.NotEqual(0, code);
        Assert.Contains("--credentials-file", stderr, StringComparison.Ordinal);
        Assert.Contains("--allow-anonymous", stderr, StringComparison.Ordinal);
    }
}
