using System.Net;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using Trainyard.Api;
using Trainyard.Jobs;
using Trainyard.Storage;

namespace Trainyard.S3.Tests;

/// <summary>Whole training jobs whose channels, artifacts and checkpoints live on a real S3 server (s3rver).</summary>
[Collection(S3rverCollection.Name)]
public sealed class S3JobTests(S3rverFixture s3)
{
    private static async Task<(TrainyardServer Server, string Home)> StartAsync(IObjectStore store, Dictionary<string, string>? hostEnvironment = null)
    {
        var home = TestData.TempDir();
        var server = await TrainyardServer.StartAsync(new TrainyardOptions
        {
            Home = home,
            ObjectStore = "s3",
            StopGracePeriod = TimeSpan.FromSeconds(3),
            HostEnvironment = hostEnvironment ?? new Dictionary<string, string>(),
        }, objectStore: store);
        return (server, home);
    }

    private static string Algorithm(string home, string script)
    {
        var dir = Path.Combine(home, "image");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "train"), script);
        File.SetUnixFileMode(Path.Combine(dir, "train"), (UnixFileMode)0b111_101_101);
        return dir;
    }

    private static JsonObject Request(string name, string image, string output, params JsonObject[] channels)
    {
        var request = new JsonObject
        {
            ["TrainingJobName"] = name,
            ["RoleArn"] = "arn:aws:iam::123456789012:role/r",
            ["AlgorithmSpecification"] = new JsonObject { ["TrainingImage"] = image, ["TrainingInputMode"] = "File" },
            ["OutputDataConfig"] = new JsonObject { ["S3OutputPath"] = output },
            ["ResourceConfig"] = new JsonObject { ["InstanceType"] = "ml.m5.large", ["InstanceCount"] = 1, ["VolumeSizeInGB"] = 1 },
            ["StoppingCondition"] = new JsonObject { ["MaxRuntimeInSeconds"] = 120 },
        };
        if (channels.Length > 0)
        {
            request["InputDataConfig"] = new JsonArray(channels);
        }

        return request;
    }

    private static JsonObject Channel(string name, string uri, string distribution = "FullyReplicated") => new()
    {
        ["ChannelName"] = name,
        ["DataSource"] = new JsonObject { ["S3DataSource"] = new JsonObject { ["S3DataType"] = "S3Prefix", ["S3Uri"] = uri, ["S3DataDistributionType"] = distribution } },
    };

    /// <summary>Sends CreateTrainingJob; returns the status and body of the answer.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> CreateAsync(TrainyardServer server, JsonObject request)
    {
        using var http = new HttpClient { BaseAddress = server.Address };
        using var message = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent(request.ToJsonString()) };
        message.Content.Headers.ContentType = new("application/x-amz-json-1.1");
        message.Headers.Add("X-Amz-Target", "SageMaker.CreateTrainingJob");
        using var response = await http.SendAsync(message);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<JobRecord> RunAsync(TrainyardServer server, JsonObject request)
    {
        var (status, body) = await CreateAsync(server, request);
        Assert.True((int)status is >= 200 and < 300, body);
        var name = request["TrainingJobName"]!.GetValue<string>();
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (server.Store.Get(name) is not { IsTerminal: true })
        {
            Assert.True(DateTime.UtcNow < deadline, $"job {name} did not end");
            await Task.Delay(50);
        }

        return server.Store.Get(name)!;
    }

    private static Dictionary<string, string> TarEntries(string path)
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal);
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.DataStream is { } data)
            {
                using var reader = new StreamReader(data);
                entries[entry.Name] = reader.ReadToEnd();
            }
        }

        return entries;
    }

    [Fact]
    public async Task Job_OverS3_ReadsChannelsAndWritesArtifactsTheAwsCliCanRead()
    {
        var bucket = await s3.NewBucketAsync();
        var data = Path.Combine(Path.GetTempPath(), "trainyard-s3-data-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(data, "nested"));
        File.WriteAllText(Path.Combine(data, "a.csv"), "1,2\n");
        File.WriteAllText(Path.Combine(data, "nested", "b.csv"), "3,4\n");
        await File.WriteAllBytesAsync(Path.Combine(data, "big.bin"), Enumerable.Range(0, 12 << 20).Select(i => (byte)(i * 31)).ToArray());
        await s3.AwsAsync("s3", "cp", "--recursive", data, $"s3://{bucket}/train/");
        Directory.Delete(data, recursive: true);

        var env = new Dictionary<string, string> { ["AWS_ENDPOINT_URL_S3"] = s3.Endpoint.ToString(), ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey };
        var (server, home) = await StartAsync(s3.CreateStore(), env);
        await using (server)
        {
            var image = Algorithm(home, """
                #!/bin/sh
                cd /opt/ml/input/data/train && find . -type f | sort > /opt/ml/model/files.txt
                md5sum big.bin | cut -d' ' -f1 > /opt/ml/model/big.md5
                echo "$AWS_ENDPOINT_URL_S3 $AWS_ACCESS_KEY_ID" > /opt/ml/model/s3-env.txt
                echo report > /opt/ml/output/data/report.txt
                """);
            var job = await RunAsync(server, Request("s3-job", image, $"s3://{bucket}/models", Channel("train", $"s3://{bucket}/train/")));
            Assert.True(job.Status == TrainingJobStatus.Completed, job.FailureReason);
            Assert.Equal($"s3://{bucket}/models/s3-job/output/model.tar.gz", job.ModelArtifacts);

            // Cross-checked with the AWS CLI, independently of Trainyard's own store code.
            var local = Path.Combine(home, "model.tar.gz");
            await s3.AwsAsync("s3", "cp", $"s3://{bucket}/models/s3-job/output/model.tar.gz", local);
            var model = TarEntries(local);
            Assert.Equal("./a.csv\n./big.bin\n./nested/b.csv\n", model["files.txt"]);
            var expected = Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(Enumerable.Range(0, 12 << 20).Select(i => (byte)(i * 31)).ToArray()));
            Assert.Equal(expected + "\n", model["big.md5"]);
            Assert.Equal($"{s3.Endpoint} {S3rverFixture.AccessKey}\n", model["s3-env.txt"]);
            var listing = await s3.AwsAsync("s3", "ls", $"s3://{bucket}/models/s3-job/output/");
            Assert.Contains("output.tar.gz", listing, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Create_ChannelOverEmptyS3Prefix_IsRefusedBeforeAnyJobExists()
    {
        var bucket = await s3.NewBucketAsync();
        await s3.AwsAsync("s3", "cp", "-", $"s3://{bucket}/training-notes.txt");
        await s3.AwsAsync("s3", "cp", "-", $"s3://{bucket}/data/x.csv");
        var (server, home) = await StartAsync(s3.CreateStore());
        await using (server)
        {
            var image = Algorithm(home, "#!/bin/sh\nexit 0\n");
            Task<(HttpStatusCode Status, string Body)> Create(string name, string uri) =>
                CreateAsync(server, Request(name, image, $"s3://{bucket}/out", Channel("train", uri)));

            var (status, body) = await Create("empty-prefix", $"s3://{bucket}/train/");
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Contains("ValidationException", body, StringComparison.Ordinal);
            Assert.Contains($"No S3 objects found under S3 URL \"s3://{bucket}/train/\"", JsonNode.Parse(body)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Null(server.Store.Get("empty-prefix"));

            // A prefix is a prefix of keys, not a directory: "data" holds data/x.csv.
            (status, body) = await Create("key-prefix", $"s3://{bucket}/data");
            Assert.True(status == HttpStatusCode.OK, body);
        }
    }

    [Fact]
    public async Task Job_UnknownBucketOrWrongCredentials_FailsWithTheUriAndTheError()
    {
        var bucket = await s3.NewBucketAsync();
        await s3.AwsAsync("s3", "cp", "-", $"s3://{bucket}/train/x.csv");
        var (server, home) = await StartAsync(s3.CreateStore());
        await using (server)
        {
            var image = Algorithm(home, "#!/bin/sh\necho ok > /opt/ml/model/m\n");
            var job = await RunAsync(server, Request("no-bucket", image, $"s3://{bucket}/out", Channel("train", "s3://no-such-bucket-here/train/")));
            Assert.Equal(TrainingJobStatus.Failed, job.Status);
            Assert.Contains("s3://no-such-bucket-here/train/", job.FailureReason, StringComparison.Ordinal);
            Assert.Contains("NoSuchBucket", job.FailureReason, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", job.FailureReason, StringComparison.Ordinal);

            var output = await RunAsync(server, Request("no-out-bucket", image, "s3://no-such-output-bucket/models"));
            Assert.Equal(TrainingJobStatus.Failed, output.Status);
            Assert.Contains("s3://no-such-output-bucket/models/no-out-bucket/output/", output.FailureReason, StringComparison.Ordinal);
        }

        var (badServer, badHome) = await StartAsync(s3.CreateStore(o => o.Credentials = new Amazon.Runtime.BasicAWSCredentials("WRONG-KEY", "x")));
        await using (badServer)
        {
            var image = Algorithm(badHome, "#!/bin/sh\nexit 0\n");
            var job = await RunAsync(badServer, Request("bad-creds", image, $"s3://{bucket}/out", Channel("train", $"s3://{bucket}/train/")));
            Assert.Equal(TrainingJobStatus.Failed, job.Status);
            Assert.Contains($"s3://{bucket}/train/", job.FailureReason, StringComparison.Ordinal);
            Assert.Contains("InvalidAccessKeyId", job.FailureReason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Job_EndpointDroppingConnections_StillCompletesWithIntactData()
    {
        var bucket = await s3.NewBucketAsync();
        var file = Path.Combine(Path.GetTempPath(), "trainyard-flaky-" + Guid.NewGuid().ToString("N")[..8]);
        var bytes = Enumerable.Range(0, 20 << 20).Select(i => (byte)(i * 7 + 3)).ToArray();
        await File.WriteAllBytesAsync(file, bytes);
        await s3.AwsAsync("s3", "cp", file, $"s3://{bucket}/train/blob.bin");
        File.Delete(file);
        await using var proxy = new FlakyProxy(s3.Endpoint, dropEvery: 2, dropAfterBytes: 256 * 1024);
        var (server, home) = await StartAsync(s3.CreateStore(endpoint: proxy.Endpoint));
        await using (server)
        {
            var image = Algorithm(home, "#!/bin/sh\nmd5sum /opt/ml/input/data/train/blob.bin | cut -d' ' -f1 > /opt/ml/model/md5\n");
            var job = await RunAsync(server, Request("flaky", image, $"s3://{bucket}/out", Channel("train", $"s3://{bucket}/train/")));
            Assert.True(job.Status == TrainingJobStatus.Completed, job.FailureReason);
            var local = Path.Combine(home, "model.tar.gz");
            await s3.AwsAsync("s3", "cp", $"s3://{bucket}/out/flaky/output/model.tar.gz", local);
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes)) + "\n", TarEntries(local)["md5"]);
            Assert.True(proxy.Dropped > 0, "the proxy dropped no connection");
        }
    }

    [Fact]
    public async Task Checkpoints_OverS3_AreRestoredAndUploaded()
    {
        var bucket = await s3.NewBucketAsync();
        await s3.AwsAsync("s3", "cp", "-", $"s3://{bucket}/ckpt/previous.txt");
        var (server, home) = await StartAsync(s3.CreateStore());
        await using (server)
        {
            var image = Algorithm(home, "#!/bin/sh\nls /opt/ml/checkpoints > /opt/ml/model/restored.txt\necho new > /opt/ml/checkpoints/epoch-2.txt\n");
            var request = Request("ckpt", image, $"s3://{bucket}/out");
            request["CheckpointConfig"] = new JsonObject { ["S3Uri"] = $"s3://{bucket}/ckpt" };
            var job = await RunAsync(server, request);
            Assert.True(job.Status == TrainingJobStatus.Completed, job.FailureReason);
            Assert.Contains("epoch-2.txt", await s3.AwsAsync("s3", "ls", $"s3://{bucket}/ckpt/"), StringComparison.Ordinal);
            var local = Path.Combine(home, "model.tar.gz");
            await s3.AwsAsync("s3", "cp", $"s3://{bucket}/out/ckpt/output/model.tar.gz", local);
            Assert.Equal("previous.txt\n", TarEntries(local)["restored.txt"]);
        }
    }

    [Fact]
    public async Task Job_FastFileOverS3_PythonReaderSeesEveryByteThroughTheMount()
    {
        var bucket = await s3.NewBucketAsync();
        var data = Path.Combine(Path.GetTempPath(), "trainyard-ff-s3-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(data, "deep", "er"));
        var files = new Dictionary<string, byte[]>
        {
            ["a.bin"] = Enumerable.Range(0, 3 << 20).Select(i => (byte)(i * 13 + 1)).ToArray(),
            ["deep/b.txt"] = "hello fastfile\n"u8.ToArray(),
            ["deep/er/c.bin"] = Enumerable.Range(0, 700_001).Select(i => (byte)(i ^ (i >> 8))).ToArray(),
        };
        foreach (var (name, bytes) in files)
        {
            await File.WriteAllBytesAsync(Path.Combine(data, name), bytes);
        }

        await s3.AwsAsync("s3", "cp", "--recursive", data, $"s3://{bucket}/ff/");
        Directory.Delete(data, recursive: true);
        var (server, home) = await StartAsync(s3.CreateStore());
        await using (server)
        {
            // Walks the mount, reads each file whole and at random offsets, and reports what it saw.
            var image = Algorithm(home, """
                #!/usr/bin/python3
                import hashlib, json, os, random
                root = "/opt/ml/input/data/train"
                seen = {"mode": json.load(open("/opt/ml/input/config/inputdataconfig.json"))["train"]["TrainingInputMode"],
                        "mounted": any(" " + root + " " in l for l in open("/proc/self/mountinfo")), "files": {}}
                rng = random.Random(7)
                for d, _, names in os.walk(root):
                    for n in names:
                        p = os.path.join(d, n)
                        whole = open(p, "rb").read()
                        with open(p, "rb") as f:
                            ok = True
                            for _ in range(20):
                                off = rng.randrange(0, max(1, len(whole)))
                                f.seek(off)
                                ok = ok and f.read(4096) == whole[off:off + 4096]
                        seen["files"][os.path.relpath(p, root)] = {"size": os.path.getsize(p), "md5": hashlib.md5(whole).hexdigest(), "random_reads_ok": ok}
                json.dump(seen, open("/opt/ml/model/seen.json", "w"))
                """);
            var channel = Channel("train", $"s3://{bucket}/ff/");
            channel["InputMode"] = "FastFile";
            var job = await RunAsync(server, Request("fastfile-s3", image, $"s3://{bucket}/out", channel));
            Assert.True(job.Status == TrainingJobStatus.Completed, job.FailureReason);
            var local = Path.Combine(home, "model.tar.gz");
            await s3.AwsAsync("s3", "cp", $"s3://{bucket}/out/fastfile-s3/output/model.tar.gz", local);
            var seen = JsonNode.Parse(TarEntries(local)["seen.json"])!;
            Assert.Equal("FastFile", seen["mode"]!.GetValue<string>());
            Assert.True(seen["mounted"]!.GetValue<bool>(), "the channel was not a mount");
            var reported = seen["files"]!.AsObject();
            Assert.Equal(files.Keys.Order(StringComparer.Ordinal), reported.Select(f => f.Key).Order(StringComparer.Ordinal));
            foreach (var (name, bytes) in files)
            {
                Assert.Equal(bytes.Length, reported[name]!["size"]!.GetValue<long>());
                Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes)), reported[name]!["md5"]!.GetValue<string>());
                Assert.True(reported[name]!["random_reads_ok"]!.GetValue<bool>(), name);
            }
        }
    }
}
