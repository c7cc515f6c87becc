using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Api;

/// <summary>
/// The S3 API of the embedded store, driven by the clients people use — Debian's AWS CLI v2, boto3 (the
/// SageMaker SDK's calls), the AWS SDK for .NET and for JavaScript — and by raw HTTP for the bad inputs.
/// </summary>
public sealed class S3ApiTests
{
    private static async Task<(int Code, string Stdout, string Stderr)> Aws(TestServer server, params string[] args) =>
        await AwsCli.RunAsync(server.Address, args);

    private static async Task AwsOk(TestServer server, params string[] args)
    {
        var (code, stdout, stderr) = await Aws(server, args);
        Assert.True(code == 0, $"aws {string.Join(' ', args)} exited {code}: {stderr}\n{stdout}");
    }

    private static HttpClient Http(TestServer server) => new() { BaseAddress = server.Address };

    [Fact]
    public async Task AwsCli_MakeBucket_CopySyncListRemove_RoundTripsBytes()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var big = Path.Combine(dir.Path, "big.bin");
        var bytes = RandomNumberGenerator.GetBytes(20 << 20);
        await File.WriteAllBytesAsync(big, bytes);
        var tree = Directory.CreateDirectory(Path.Combine(dir.Path, "tree")).FullName;
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        await File.WriteAllTextAsync(Path.Combine(tree, "a.txt"), "alpha");
        await File.WriteAllTextAsync(Path.Combine(tree, "sub", "b.txt"), "beta");

        await AwsOk(server, "s3", "mb", "s3://data");
        await AwsOk(server, "s3", "cp", "--only-show-errors", big, "s3://data/in/big.bin");
        await AwsOk(server, "s3", "sync", "--only-show-errors", tree, "s3://data/tree");

        var (_, top, _) = await Aws(server, "s3", "ls", "s3://data/");
        Assert.Contains("PRE in/", top, StringComparison.Ordinal);
        Assert.Contains("PRE tree/", top, StringComparison.Ordinal);
        var (_, all, _) = await Aws(server, "s3", "ls", "--recursive", "s3://data");
        Assert.Contains("in/big.bin", all, StringComparison.Ordinal);
        Assert.Contains("tree/sub/b.txt", all, StringComparison.Ordinal);
        Assert.Contains((20 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), all, StringComparison.Ordinal);

        var back = Path.Combine(dir.Path, "back.bin");
        await AwsOk(server, "s3", "cp", "--only-show-errors", "s3://data/in/big.bin", back);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(back));

        // A multipart upload's ETag is S3's: the MD5 of the parts' MD5s, then the count of parts.
        var head = await AwsCli.JsonAsync(server.Address, "s3api", "head-object", "--bucket", "data", "--key", "in/big.bin");
        Assert.Matches("^\"[0-9a-f]{32}-[0-9]+\"$", head["ETag"]!.GetValue<string>());

        var restored = Path.Combine(dir.Path, "restored");
        await AwsOk(server, "s3", "sync", "--only-show-errors", "s3://data/tree", restored);
        Assert.Equal("beta", await File.ReadAllTextAsync(Path.Combine(restored, "sub", "b.txt")));

        var (rbCode, _, rbErr) = await Aws(server, "s3", "rb", "s3://data");
        Assert.NotEqual(0, rbCode);
        Assert.Contains("BucketNotEmpty", rbErr, StringComparison.Ordinal);
        await AwsOk(server, "s3", "rm", "--only-show-errors", "--recursive", "s3://data");
        await AwsOk(server, "s3", "rb", "s3://data");
        Assert.False(Directory.Exists(Path.Combine(server.Objects, "data")));
    }

    [Fact]
    public async Task AwsCli_PutObjectWithMetadata_HeadAndGetReturnIt()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "m.json");
        await File.WriteAllTextAsync(file, "{\"a\":1}");
        await AwsOk(server, "s3", "mb", "s3://meta");
        var put = await AwsCli.JsonAsync(server.Address, "s3api", "put-object", "--bucket", "meta", "--key", "x/m.json", "--body", file,
            "--content-type", "application/json", "--metadata", "owner=ml,run=7", "--server-side-encryption", "aws:kms");
        Assert.Equal("\"" + Convert.ToHexStringLower(MD5.HashData(File.ReadAllBytes(file))) + "\"", put["ETag"]!.GetValue<string>());
        var head = await AwsCli.JsonAsync(server.Address, "s3api", "head-object", "--bucket", "meta", "--key", "x/m.json");
        Assert.Equal("application/json", head["ContentType"]!.GetValue<string>());
        Assert.Equal("ml", head["Metadata"]!["owner"]!.GetValue<string>());
        Assert.Equal("7", head["Metadata"]!["run"]!.GetValue<string>());

        var copy = await AwsCli.JsonAsync(server.Address, "s3api", "copy-object", "--bucket", "meta", "--key", "y/copy.json", "--copy-source", "meta/x/m.json");
        Assert.Equal(put["ETag"]!.GetValue<string>(), copy["CopyObjectResult"]!["ETag"]!.GetValue<string>());
        var copied = await AwsCli.JsonAsync(server.Address, "s3api", "head-object", "--bucket", "meta", "--key", "y/copy.json");
        Assert.Equal("ml", copied["Metadata"]!["owner"]!.GetValue<string>());

        var (code, _, stderr) = await Aws(server, "s3api", "head-object", "--bucket", "meta", "--key", "nope");
        Assert.NotEqual(0, code);
        Assert.Contains("404", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// The SageMaker SDK's S3 calls through boto3 1.26: default_bucket()'s head_bucket (a bare 404 it reads as
    /// code "404" and message "Not Found") and create_bucket, upload_file of 100 MB (multipart) and
    /// download_file, listing in pages with a delimiter, copy and batch delete.
    /// </summary>
    [Fact]
    public async Task Boto3_SdkCalls_DefaultBucketUploadDownloadListDelete()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "model.bin");
        await File.WriteAllBytesAsync(file, RandomNumberGenerator.GetBytes(100_000_000));
        const string script = """
            import boto3, botocore, json, os, sys, filecmp
            s3 = boto3.session.Session().resource("s3", endpoint_url=os.environ["ENDPOINT"])
            client = s3.meta.client
            bucket = "sagemaker-us-east-1-000000000000"
            out = {}
            try:
                client.head_bucket(Bucket=bucket)
                out["head"] = "exists"
            except botocore.exceptions.ClientError as e:
                out["head"] = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
            s3.create_bucket(Bucket=bucket)
            try:
                s3.create_bucket(Bucket=bucket)
            except botocore.exceptions.ClientError as e:
                out["again"] = e.response["Error"]["Code"]
            src = sys.argv[1]
            s3.Object(bucket, "job/source/model.bin").upload_file(src, ExtraArgs={"ServerSideEncryption": "aws:kms"})
            s3.Object(bucket, "job/source/model.bin").download_file(src + ".back")
            out["same"] = filecmp.cmp(src, src + ".back", shallow=False)
            for i in range(5):
                client.put_object(Bucket=bucket, Key=f"list/k{i}", Body=b"x")
            client.put_object(Bucket=bucket, Key="list/sub/deep", Body=b"y")
            keys, prefixes, token, pages = [], [], None, 0
            while True:
                args = dict(Bucket=bucket, Prefix="list/", Delimiter="/", MaxKeys=2)
                if token:
                    args["ContinuationToken"] = token
                page = client.list_objects_v2(**args)
                pages += 1
                keys += [c["Key"] for c in page.get("Contents", [])]
                prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
                if not page["IsTruncated"]:
                    break
                token = page["NextContinuationToken"]
            out["keys"], out["prefixes"], out["pages"] = keys, prefixes, pages
            client.copy_object(Bucket=bucket, Key="list/copy", CopySource={"Bucket": bucket, "Key": "list/k0"})
            deleted = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"list/k{i}"} for i in range(5)] + [{"Key": "list/copy"}]})
            out["deleted"] = sorted(d["Key"] for d in deleted["Deleted"])
            out["left"] = [c["Key"] for c in client.list_objects_v2(Bucket=bucket, Prefix="list/").get("Contents", [])]
            print(json.dumps(out))
            """;
        var result = await Boto3.JsonAsync(server.Address, script, file);
        Assert.Equal("[\"404\",\"Not Found\"]", result["head"]!.ToJsonString());
        Assert.Equal("BucketAlreadyOwnedByYou", result["again"]!.GetValue<string>());
        Assert.True(result["same"]!.GetValue<bool>());
        Assert.Equal("[\"list/k0\",\"list/k1\",\"list/k2\",\"list/k3\",\"list/k4\"]", result["keys"]!.ToJsonString());
        Assert.Equal("[\"list/sub/\"]", result["prefixes"]!.ToJsonString());
        Assert.Equal(3, result["pages"]!.GetValue<int>());
        Assert.Equal(6, result["deleted"]!.AsArray().Count);
        Assert.Equal("[\"list/sub/deep\"]", result["left"]!.ToJsonString());
    }

    /// <summary>The AWS SDK for .NET v4 sends a CRC32 trailer with an aws-chunked body by default; both are checked and kept.</summary>
    [Fact]
    public async Task DotNetSdk_TrailerChecksums_PutGetMultipart()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new AmazonS3Client(new BasicAWSCredentials("AKIDTRAINYARDTEST", "secret"),
            new AmazonS3Config { ServiceURL = server.Address.ToString(), ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        await client.PutBucketAsync("dotnet");
        foreach (var algorithm in new[] { ChecksumAlgorithm.CRC32, ChecksumAlgorithm.CRC32C, ChecksumAlgorithm.SHA256, ChecksumAlgorithm.SHA1, ChecksumAlgorithm.CRC64NVME })
        {
            var key = "sum/" + algorithm.Value;
            var put = await client.PutObjectAsync(new PutObjectRequest { BucketName = "dotnet", Key = key, ContentBody = "hello " + algorithm.Value, ChecksumAlgorithm = algorithm });
            Assert.Equal(HttpStatusCode.OK, put.HttpStatusCode);
            using var get = await client.GetObjectAsync(new GetObjectRequest { BucketName = "dotnet", Key = key, ChecksumMode = ChecksumMode.ENABLED });
            using var reader = new StreamReader(get.ResponseStream);
            Assert.Equal("hello " + algorithm.Value, await reader.ReadToEndAsync());
        }

        var data = RandomNumberGenerator.GetBytes(20 << 20);
        using var transfer = new Amazon.S3.Transfer.TransferUtility(client);
        await transfer.UploadAsync(new Amazon.S3.Transfer.TransferUtilityUploadRequest
        {
            BucketName = "dotnet", Key = "big/object", InputStream = new MemoryStream(data), PartSize = 5 << 20,
        });
        using var whole = await client.GetObjectAsync("dotnet", "big/object");
        using var copy = new MemoryStream();
        await whole.ResponseStream.CopyToAsync(copy);
        Assert.Equal(data, copy.ToArray());
        Assert.EndsWith("-4\"", whole.ETag, StringComparison.Ordinal);

        using var range = await client.GetObjectAsync(new GetObjectRequest { BucketName = "dotnet", Key = "big/object", ByteRange = new ByteRange(100, 199) });
        using var part = new MemoryStream();
        await range.ResponseStream.CopyToAsync(part);
        Assert.Equal(data[100..200], part.ToArray());
    }

    [Fact]
    public async Task JavaScriptSdk_PutListGet()
    {
        await using var server = await TestServer.StartAsync();
        const string script = """
            const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } = require("@aws-sdk/client-s3");
            (async () => {
              const s3 = new S3Client({ endpoint: process.env.ENDPOINT, forcePathStyle: true, region: "us-east-1" });
              await s3.send(new CreateBucketCommand({ Bucket: "js-bucket" }));
              await s3.send(new PutObjectCommand({ Bucket: "js-bucket", Key: "a b/c+d.txt", Body: "from node", ContentType: "text/plain" }));
              const list = await s3.send(new ListObjectsV2Command({ Bucket: "js-bucket" }));
              const got = await s3.send(new GetObjectCommand({ Bucket: "js-bucket", Key: "a b/c+d.txt" }));
              console.log(JSON.stringify({ keys: list.Contents.map(c => c.Key), body: await got.Body.transformToString(), type: got.ContentType }));
            })().catch(e => { console.error(e); process.exit(1); });
            """;
        var result = await AwsSdkJs.JsonAsync(server.Address, script);
        Assert.Equal(["a b/c+d.txt"], result["keys"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Equal("from node", result["body"]!.GetValue<string>());
        Assert.Equal("text/plain", result["type"]!.GetValue<string>());
        Assert.Equal("from node", await File.ReadAllTextAsync(Path.Combine(server.Objects, "js-bucket", "a b", "c+d.txt")));
    }

    private static async Task<(HttpStatusCode Status, XElement? Error)> SendAsync(HttpClient http, HttpRequestMessage request)
    {
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, body.Length == 0 ? null : XElement.Parse(body));
    }

    private static HttpRequestMessage Put(string path, byte[] body, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = new ByteArrayContent(body) };
        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    [Fact]
    public async Task BadBodies_WrongMd5Sha256OrTrailer_AreRefusedAndNothingIsStored()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        Directory.CreateDirectory(Path.Combine(server.Objects, "bad"));
        var body = Encoding.UTF8.GetBytes("the real bytes");
        var wrongMd5 = Convert.ToBase64String(MD5.HashData("other"u8.ToArray()));

        var (status, error) = await SendAsync(http, Put("/bad/md5", body, ("Content-MD5", wrongMd5)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("BadDigest", error!.Element("Code")!.Value);

        (status, error) = await SendAsync(http, Put("/bad/sha", body, ("x-amz-content-sha256", Convert.ToHexStringLower(SHA256.HashData("other"u8.ToArray())))));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("XAmzContentSHA256Mismatch", error!.Element("Code")!.Value);

        var chunked = Encoding.ASCII.GetBytes($"{body.Length:x}\r\n").Concat(body).Concat("\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"u8.ToArray()).ToArray();
        (status, error) = await SendAsync(http, Put("/bad/trailer", chunked, ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-decoded-content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("Content-Encoding", "aws-chunked")));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("BadDigest", error!.Element("Code")!.Value);

        (status, error) = await SendAsync(http, Put("/bad/short", chunked[..10], ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-decoded-content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("IncompleteBody", error!.Element("Code")!.Value);

        // A correct trailer is accepted: the same body with its real CRC-32.
        var crc = System.IO.Hashing.Crc32.Hash(body);
        Array.Reverse(crc);
        var good = Encoding.ASCII.GetBytes($"{body.Length:x}\r\n").Concat(body).Concat(Encoding.ASCII.GetBytes($"\r\n0\r\nx-amz-checksum-crc32:{Convert.ToBase64String(crc)}\r\n\r\n")).ToArray();
        (status, _) = await SendAsync(http, Put("/bad/good", good, ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            ("x-amz-trailer", "x-amz-checksum-crc32"), ("x-amz-decoded-content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Equal(HttpStatusCode.OK, status);

        // STREAMING-AWS4-HMAC-SHA256-PAYLOAD: chunks with signatures (parsed; verified once the server has credentials), no trailer.
        var signature = new string('a', 64);
        var signed = Encoding.ASCII.GetBytes($"5;chunk-signature={signature}\r\n").Concat(body[..5]).Concat(Encoding.ASCII.GetBytes($"\r\n{body.Length - 5:x};chunk-signature={signature}\r\n"))
            .Concat(body[5..]).Concat(Encoding.ASCII.GetBytes($"\r\n0;chunk-signature={signature}\r\n\r\n")).ToArray();
        (status, _) = await SendAsync(http, Put("/bad/signed-chunks", signed, ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("x-amz-decoded-content-length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("Content-Encoding", "aws-chunked")));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(body, await File.ReadAllBytesAsync(Path.Combine(server.Objects, "bad", "signed-chunks")));
        File.Delete(Path.Combine(server.Objects, "bad", "signed-chunks"));

        Assert.Equal(["good"], Directory.GetFiles(Path.Combine(server.Objects, "bad")).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(Path.Combine(server.Objects, ".trainyard-tmp")));
    }

    [Fact]
    public async Task EscapingKeysAndBuckets_AreRefused_NothingIsReadOrWrittenOutside()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        using var outside = new TempDirectory("outside");
        await File.WriteAllTextAsync(Path.Combine(outside.Path, "secret"), "secret");
        Directory.CreateDirectory(Path.Combine(server.Objects, "a"));
        Directory.CreateDirectory(Path.Combine(server.Objects, "ab"));
        await File.WriteAllTextAsync(Path.Combine(server.Objects, "ab", "x"), "other bucket");
        File.CreateSymbolicLink(Path.Combine(server.Objects, "a", "link"), outside.Path);

        // HttpClient (System.Uri) decodes %2e and removes dot segments before sending: send the bytes a client could send.
        foreach (var path in new[] { "/a/../ab/x", "/a/%2e%2e/ab/x", "/a/%2E%2E%2Fab%2Fx", "/a//etc/passwd", "/a/%2Fetc%2Fpasswd", "/a/x/./y", "/a/link/secret", "/a/.trainyard-tmp/x" })
        {
            foreach (var method in new[] { "GET", "PUT" })
            {
                var raw = await RawRequestAsync(server.Address, $"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad");
                Assert.True(raw.StartsWith("HTTP/1.1 400", StringComparison.Ordinal) || raw.StartsWith("HTTP/1.1 404", StringComparison.Ordinal), $"{method} {path}: {raw}");
                Assert.DoesNotContain("other bucket", raw, StringComparison.Ordinal);
                Assert.DoesNotContain("\r\n\r\nsecret", raw, StringComparison.Ordinal);
            }
        }

        Assert.Equal("other bucket", await File.ReadAllTextAsync(Path.Combine(server.Objects, "ab", "x")));
        Assert.Equal(["secret"], Directory.GetFiles(outside.Path).Select(Path.GetFileName));
        foreach (var bucket in new[] { "/..%2Fescape", "/.hidden" })
        {
            var (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Put, bucket));
            Assert.Equal(HttpStatusCode.BadRequest, status);
            Assert.Equal("InvalidBucketName", error!.Element("Code")!.Value);
        }

        Assert.False(Directory.Exists(Path.Combine(server.Objects, "..", "escape")));
    }

    private static async Task<string> RawRequestAsync(Uri address, string request)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    [Fact]
    public async Task KeyThatIsAlsoAPrefix_GetsAClearConflict()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, new HttpRequestMessage(HttpMethod.Put, "/ccc"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, Put("/ccc/x/y", "1"u8.ToArray()))).Status);
        var (status, error) = await SendAsync(http, Put("/ccc/x", "2"u8.ToArray()));
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("KeyConflict", error!.Element("Code")!.Value);
        Assert.Contains("s3://ccc/x", error.Element("Message")!.Value, StringComparison.Ordinal);
        (status, error) = await SendAsync(http, Put("/ccc/x/y/z", "3"u8.ToArray()));
        Assert.Equal(HttpStatusCode.Conflict, status);

        // Once x/y is gone, x can be an object.
        using (await http.DeleteAsync("/ccc/x/y"))
        {
        }

        Assert.Equal(HttpStatusCode.OK, (await SendAsync(http, Put("/ccc/x", "2"u8.ToArray()))).Status);
    }

    [Fact]
    public async Task Multipart_BadCompletions_AreRefusedAndTheUploadSurvives()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        await SendAsync(http, new HttpRequestMessage(HttpMethod.Put, "/mpu"));
        using var created = await http.PostAsync("/mpu/obj?uploads", null);
        var uploadId = XElement.Parse(await created.Content.ReadAsStringAsync()).Elements().First(e => e.Name.LocalName == "UploadId").Value;
        var part1 = RandomNumberGenerator.GetBytes(5 << 20);
        var part2 = "tail"u8.ToArray();
        using var r1 = await http.SendAsync(Put($"/mpu/obj?partNumber=1&uploadId={uploadId}", part1));
        using var r2 = await http.SendAsync(Put($"/mpu/obj?partNumber=2&uploadId={uploadId}", part2));
        using var r3 = await http.SendAsync(Put($"/mpu/obj?partNumber=3&uploadId={uploadId}", part2));
        var e1 = r1.Headers.ETag!.Tag;
        var e2 = r2.Headers.ETag!.Tag;

        async Task<(HttpStatusCode, string?)> Complete(string xml)
        {
            var (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, $"/mpu/obj?uploadId={uploadId}") { Content = new StringContent(xml) });
            return (status, error?.Element("Code")?.Value);
        }

        Assert.Equal((HttpStatusCode.BadRequest, "MalformedXML"), await Complete("<CompleteMultipartUpload><Part><PartNumber>1"));
        Assert.Equal((HttpStatusCode.BadRequest, "MalformedXML"), await Complete("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><CompleteMultipartUpload>&e;</CompleteMultipartUpload>"));
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidPart"), await Complete($"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"{new string('0', 32)}\"</ETag></Part></CompleteMultipartUpload>"));
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidPartOrder"), await Complete($"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>{e2}</ETag></Part><Part><PartNumber>1</PartNumber><ETag>{e1}</ETag></Part></CompleteMultipartUpload>"));
        Assert.Equal((HttpStatusCode.BadRequest, "EntityTooSmall"), await Complete($"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>{e2}</ETag></Part><Part><PartNumber>3</PartNumber><ETag>{e2}</ETag></Part></CompleteMultipartUpload>"));
        Assert.False(File.Exists(Path.Combine(server.Objects, "mpu", "obj")));

        using var parts = await http.GetAsync($"/mpu/obj?uploadId={uploadId}");
        Assert.Equal(3, XElement.Parse(await parts.Content.ReadAsStringAsync()).Elements().Count(e => e.Name.LocalName == "Part"));
        Assert.Equal((HttpStatusCode.OK, null), await Complete($"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{e1}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>{e2}</ETag></Part></CompleteMultipartUpload>"));
        Assert.Equal(part1.Concat(part2).ToArray(), await File.ReadAllBytesAsync(Path.Combine(server.Objects, "mpu", "obj")));
        var (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Delete, $"/mpu/obj?uploadId={uploadId}"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("NoSuchUpload", error!.Element("Code")!.Value);
    }

    /// <summary>
    /// Parts of one size are written where the object has them; parts of other sizes, lists that skip a part,
    /// and parts uploaded again must still assemble to exactly the bytes listed.
    /// </summary>
    [Theory]
    [InlineData(new[] { 6, 6, 6, 1 }, new[] { 1, 2, 3, 4 }, new int[0])]
    [InlineData(new[] { 6, 5, 6, 1 }, new[] { 1, 2, 3, 4 }, new int[0])]
    [InlineData(new[] { 6, 6, 6, 1 }, new[] { 1, 3, 4 }, new int[0])]
    [InlineData(new[] { 6, 6, 6 }, new[] { 1, 2 }, new[] { 2 })]
    [InlineData(new[] { 1, 6, 6 }, new[] { 2, 3 }, new[] { 3, 1 })]
    public async Task Multipart_AnyPartSizesAndLists_AssembleExactlyTheListedBytes(int[] mebibytes, int[] chosen, int[] uploadedAgain)
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        await SendAsync(http, new HttpRequestMessage(HttpMethod.Put, "/asm"));
        using var created = await http.PostAsync("/asm/obj?uploads", null);
        var uploadId = XElement.Parse(await created.Content.ReadAsStringAsync()).Elements().First(e => e.Name.LocalName == "UploadId").Value;
        var data = new System.Collections.Concurrent.ConcurrentDictionary<int, byte[]>();
        var etags = new System.Collections.Concurrent.ConcurrentDictionary<int, string>();
        async Task UploadAsync(int number, int size)
        {
            data[number] = RandomNumberGenerator.GetBytes(size == 1 ? 1000 : size << 20);
            using var response = await http.SendAsync(Put($"/asm/obj?partNumber={number}&uploadId={uploadId}", data[number]));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            etags[number] = response.Headers.ETag!.Tag;
            Assert.Equal("\"" + Convert.ToHexStringLower(MD5.HashData(data[number])) + "\"", etags[number]);
        }

        await Task.WhenAll(mebibytes.Select((size, i) => UploadAsync(i + 1, size)));
        foreach (var number in uploadedAgain)
        {
            await UploadAsync(number, mebibytes[number - 1]);
        }

        var xml = "<CompleteMultipartUpload>" + string.Concat(chosen.Select(n => $"<Part><PartNumber>{n}</PartNumber><ETag>{etags[n]}</ETag></Part>")) + "</CompleteMultipartUpload>";
        var (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Post, $"/asm/obj?uploadId={uploadId}") { Content = new StringContent(xml) });
        Assert.True(status == HttpStatusCode.OK, error?.ToString());
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/asm/obj"));
        Assert.Equal(chosen.SelectMany(n => data[n]).ToArray(), await File.ReadAllBytesAsync(Path.Combine(server.Objects, "asm", "obj")));
        var md5s = chosen.SelectMany(n => MD5.HashData(data[n])).ToArray();
        Assert.Equal($"\"{Convert.ToHexStringLower(MD5.HashData(md5s))}-{chosen.Length}\"", head.Headers.ETag!.Tag);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(server.Objects, ".trainyard-tmp", "uploads")));
    }

    [Fact]
    public async Task Errors_AreS3s_HeadHasNoBody_RangesAndConditionals()
    {
        await using var server = await TestServer.StartAsync();
        using var http = Http(server);
        var (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/missing/key"));
        Assert.Equal((HttpStatusCode.NotFound, "NoSuchBucket"), (status, error!.Element("Code")!.Value));
        await SendAsync(http, new HttpRequestMessage(HttpMethod.Put, "/errs"));
        (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/errs/key"));
        Assert.Equal((HttpStatusCode.NotFound, "NoSuchKey"), (status, error!.Element("Code")!.Value));
        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/errs/key")))
        {
            Assert.Equal(HttpStatusCode.NotFound, head.StatusCode);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }

        using var put = await http.SendAsync(Put("/errs/key", Encoding.ASCII.GetBytes("0123456789")));
        var etag = put.Headers.ETag!.Tag;
        var ranged = new HttpRequestMessage(HttpMethod.Get, "/errs/key");
        ranged.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(2, 4);
        using (var response = await http.SendAsync(ranged))
        {
            Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
            Assert.Equal("234", await response.Content.ReadAsStringAsync());
            Assert.Equal("bytes 2-4/10", response.Content.Headers.ContentRange!.ToString());
        }

        var beyond = new HttpRequestMessage(HttpMethod.Get, "/errs/key");
        beyond.Headers.TryAddWithoutValidation("Range", "bytes=20-");
        (status, error) = await SendAsync(http, beyond);
        Assert.Equal((HttpStatusCode.RequestedRangeNotSatisfiable, "InvalidRange"), (status, error!.Element("Code")!.Value));

        var conditional = new HttpRequestMessage(HttpMethod.Get, "/errs/key");
        conditional.Headers.TryAddWithoutValidation("If-None-Match", etag);
        using (var response = await http.SendAsync(conditional))
        {
            Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        }

        (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Get, "/errs?list-type=2&max-keys=many"));
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidArgument"), (status, error!.Element("Code")!.Value));
        (status, error) = await SendAsync(http, new HttpRequestMessage(HttpMethod.Put, "/errs/key?acl"));
        Assert.Equal((HttpStatusCode.NotImplemented, "NotImplemented"), (status, error!.Element("Code")!.Value));

        // The dashboard's path is never a bucket.
        using var ui = await http.GetAsync("/ui");
        Assert.DoesNotContain("ListBucketResult", await ui.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>An algorithm's own boto3 reaches the embedded store through the endpoint its host is given.</summary>
    [Fact]
    public async Task Algorithm_UsesBoto3_ThroughTheEndpointItsHostIsGiven()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        server.PutObject("work", "in/config.txt", "from the store");
        const string script = """
            #!/usr/bin/python3
            import os, boto3
            assert os.environ["S3_ENDPOINT_URL"] == os.environ["AWS_ENDPOINT_URL_S3"], dict(os.environ)
            s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])
            text = s3.get_object(Bucket="work", Key="in/config.txt")["Body"].read().decode()
            s3.put_object(Bucket="work", Key="out/" + os.environ["SM_CURRENT_HOST"], Body=text.upper().encode())
            """;
        var name = TestJobs.UniqueName("boto");
        await server.CreateAsync(TestJobs.Request(name, TestJobs.Algorithm(dir, script), instances: 2));
        var end = await server.WaitForEndAsync(name);
        Assert.True(end["TrainingJobStatus"]!.GetValue<string>() == "Completed", end.ToJsonString() + server.LogOf(name));
        Assert.Equal("FROM THE STORE", await File.ReadAllTextAsync(Path.Combine(server.Objects, "work", "out", "algo-2")));
    }

    [Fact]
    public async Task WithAnS3Store_TheFacadeNamesThatStore()
    {
        using var home = new TempDirectory("home");
        var options = new TrainyardOptions { Home = home.Path };
        var remote = new Trainyard.S3.S3ObjectStore(new Trainyard.S3.S3ObjectStoreOptions
        {
            ServiceUrl = new Uri("http://127.0.0.1:9"), ForcePathStyle = true, Credentials = new BasicAWSCredentials("a", "b"),
        });
        await using var server = await Trainyard.Api.TrainyardServer.StartAsync(options, objectStore: remote);
        using var http = new HttpClient { BaseAddress = server.Address };
        using var response = await http.GetAsync("/bucket?list-type=2");
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        Assert.Contains("http://127.0.0.1:9", body, StringComparison.Ordinal);
    }
}
