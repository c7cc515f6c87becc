using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.DataPlane;

/// <summary>Pipe mode through a whole job: a sandboxed algorithm reads FIFOs epoch after epoch.</summary>
public sealed class PipeJobTests
{
    // Reads epochs 0..2 of the Pipe channel, parses RecordIO frames, and checks the File channel exists as a directory.
    private const string Reader = """
        #!/usr/bin/python3
        import json, os, struct, hashlib
        cfg = json.load(open("/opt/ml/input/config/inputdataconfig.json"))
        out = {"modes": {k: v["TrainingInputMode"] for k, v in cfg.items()}, "epochs": []}
        for epoch in range(3):
            path = f"/opt/ml/input/data/train_{epoch}"
            import stat
            assert stat.S_ISFIFO(os.stat(path).st_mode), path
            records = []
            with open(path, "rb") as f:
                while True:
                    head = f.read(8)
                    if not head:
                        break
                    magic, lrec = struct.unpack("<II", head)
                    assert magic == 0xced7230a, hex(magic)
                    length = lrec & ((1 << 29) - 1)
                    payload = f.read(length)
                    f.read((4 - length % 4) % 4)
                    records.append(payload.decode())
            out["epochs"].append(records)
        out["file_channel"] = sorted(os.listdir("/opt/ml/input/data/meta"))
        json.dump(out, open("/opt/ml/model/seen.json", "w"))
        """;

    [Fact]
    public async Task Job_PipeChannelWithGzipAndRecordIO_AlgorithmReadsThreeEpochs()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, Reader);
        for (var i = 0; i < 4; i++)
        {
            server.PutObject("data", $"pipe/part-{i}.txt.gz", Gzip($"object {i} " + new string((char)('a' + i), 1000 * (i + 1))));
        }

        server.PutObject("data", "meta/info.json", "{}");
        var name = TestJobs.UniqueName("pipe");
        var train = TestJobs.Channel("train", "s3://data/pipe/");
        train["InputMode"] = "Pipe";
        train["CompressionType"] = "Gzip";
        train["RecordWrapperType"] = "RecordIO";
        var request = TestJobs.Request(name, image, channels: [train, TestJobs.Channel("meta", "s3://data/meta/")]);
        await server.CreateAsync(request);
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name));

        var seen = JsonNode.Parse(TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"))["seen.json"])!;
        Assert.Equal("Pipe", seen["modes"]!["train"]!.GetValue<string>());
        Assert.Equal("File", seen["modes"]!["meta"]!.GetValue<string>());
        Assert.Equal(["info.json"], seen["file_channel"]!.AsArray().Select(f => f!.GetValue<string>()));
        var expected = Enumerable.Range(0, 4).Select(i => $"object {i} " + new string((char)('a' + i), 1000 * (i + 1))).ToList();
        foreach (var epoch in seen["epochs"]!.AsArray())
        {
            Assert.Equal(expected, epoch!.AsArray().Select(r => r!.GetValue<string>()));
        }

        // Nothing is left behind: no FIFO outlives the job.
        Assert.Empty(Directory.GetFileSystemEntries(server.Options.JobDirectory(name), "train_*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Job_PipeChannelWithBrokenGzip_FailsNamingTheObject()
    {
        await using var server = await TestServer.StartAsync();
        using var dir = new TempDirectory();
        var image = TestJobs.Algorithm(dir, "#!/usr/bin/python3\nimport time\nfor e in range(100):\n    data = open(f'/opt/ml/input/data/train_{e}', 'rb').read()\n");
        server.PutObject("data", "bad/a.gz", Gzip("fine"));
        server.PutObject("data", "bad/b.gz", "this is not gzip at all");
        var name = TestJobs.UniqueName("badgz");
        var train = TestJobs.Channel("train", "s3://data/bad/");
        train["InputMode"] = "Pipe";
        train["CompressionType"] = "Gzip";
        await server.CreateAsync(TestJobs.Request(name, image, channels: [train]));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(60));
        Assert.Equal("Failed", job["TrainingJobStatus"]!.GetValue<string>());
        var reason = job["FailureReason"]!.GetValue<string>();
        Assert.StartsWith("ClientError: Pipe channel 'train'", reason, StringComparison.Ordinal);
        Assert.Contains("s3://data/bad/b.gz", reason, StringComparison.Ordinal);
    }

    private static byte[] Gzip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return buffer.ToArray();
    }
}
