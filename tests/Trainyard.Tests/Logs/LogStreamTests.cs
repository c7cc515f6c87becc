using System.Text;
using Trainyard.Logs;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Logs;

public sealed class LogStreamTests
{
    [Fact]
    public void Write_LinesWithTimes_ReadBackByPositionAndTime()
    {
        using var dir = new TempDirectory();
        var path = dir["logs/algo-1-1700000000.log"];
        using (var writer = new LogStreamWriter(path))
        {
            writer.Write("first", 1000);
            writer.Write("second line é", 1000);
            writer.Write("", 2000);
            writer.Write("fourth", 3000);
        }

        Assert.Equal("first\nsecond line é\n\nfourth\n", File.ReadAllText(path));
        using var reader = LogStreamReader.Open(path)!;
        Assert.Equal(4, reader.Count);
        var events = reader.Read(0, 4);
        Assert.Equal(["first", "second line é", "", "fourth"], events.Select(e => Encoding.UTF8.GetString(e.Message.Span)));
        Assert.Equal([1000L, 1000, 2000, 3000], events.Select(e => e.Timestamp));
        Assert.Equal([0L, 1, 2, 3], events.Select(e => e.Index));
        Assert.All(events, e => Assert.True(e.IngestionTime >= e.Timestamp));
        Assert.Equal(0, reader.LowerBound(0));
        Assert.Equal(0, reader.LowerBound(1000));
        Assert.Equal(2, reader.LowerBound(1001));
        Assert.Equal(3, reader.LowerBound(3000));
        Assert.Equal(4, reader.LowerBound(3001));
        Assert.Equal(["second line é", ""], reader.Read(1, 3).Select(e => Encoding.UTF8.GetString(e.Message.Span)));
    }

    [Fact]
    public async Task Write_WhileTheWriterStaysOpen_LinesAreStoredWithinTheFlushDelay()
    {
        using var dir = new TempDirectory();
        var path = dir["a.log"];
        using var writer = new LogStreamWriter(path);
        writer.Write("soon");
        await Poll.UntilAsync(() => LogStreamReader.Open(path) is { Count: 1 } r && r.Read(0, 1) is [var e] && e.Message.Length == 4, TimeSpan.FromSeconds(5), "the line to be stored");
        Assert.Equal("soon\n", File.ReadAllText(path));

        // A batch of 64 KiB is stored at once, without waiting.
        var line = new string('x', 1000);
        for (var i = 0; i < 70; i++)
        {
            writer.Write(line);
        }

        using var reader = LogStreamReader.Open(path)!;
        Assert.True(reader.Count >= 65, $"{reader.Count} lines stored");
    }

    [Fact]
    public void Write_ClockGoesBack_TimestampsNeverDecrease()
    {
        using var dir = new TempDirectory();
        var path = dir["a.log"];
        using (var writer = new LogStreamWriter(path))
        {
            writer.Write("a", 5000);
            writer.Write("b", 4000);
        }

        using var reader = LogStreamReader.Open(path)!;
        Assert.Equal([5000L, 5000], reader.Read(0, 2).Select(e => e.Timestamp));
    }

    [Fact]
    public void Read_MaxBytes_StopsAtAWholeLineButReadsAtLeastOne()
    {
        using var dir = new TempDirectory();
        var path = dir["a.log"];
        using (var writer = new LogStreamWriter(path))
        {
            for (var i = 0; i < 10; i++)
            {
                writer.Write(new string((char)('a' + i), 100), 1000 + i);
            }
        }

        using var reader = LogStreamReader.Open(path)!;
        Assert.Equal(3, reader.Read(0, 10, maxBytes: 350).Count);
        Assert.Single(reader.Read(4, 10, maxBytes: 10));
    }

    [Fact]
    public void Open_AfterACrashMidRecord_AppendsAfterWhatIsWholeAndNeverServesTheTornTail()
    {
        using var dir = new TempDirectory();
        var path = dir["a.log"];
        using (var writer = new LogStreamWriter(path))
        {
            writer.Write("kept", 1000);
        }

        // A runtime killed between the two writes: a line in the text log without its record, and half a record.
        File.AppendAllText(path, "orphan\n");
        using (var index = new FileStream(LogIndex.PathOf(path), FileMode.Append))
        {
            index.Write(new byte[10]);
        }

        using (var reader = LogStreamReader.Open(path)!)
        {
            Assert.Equal(1, reader.Count);
        }

        using (var writer = new LogStreamWriter(path))
        {
            writer.Write("after restart", 2000);
        }

        using var again = LogStreamReader.Open(path)!;
        Assert.Equal(["kept", "after restart"], again.Read(0, 10).Select(e => Encoding.UTF8.GetString(e.Message.Span)));
        Assert.Equal("kept\norphan\nafter restart\n", File.ReadAllText(path));
    }

    [Fact]
    public void Open_IndexOfAnotherVersion_FailsNamingTheVersion()
    {
        using var dir = new TempDirectory();
        var path = dir["a.log"];
        File.WriteAllText(path, "x\n");
        var header = new byte[LogIndex.HeaderSize];
        LogIndex.WriteHeader(header);
        header[8] = 9;
        File.WriteAllBytes(LogIndex.PathOf(path), header);

        var e = Assert.Throws<InvalidDataException>(() => LogStreamReader.Open(path));
        Assert.Contains("version 9", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => new LogStreamWriter(path));
        Assert.Null(LogStreamReader.Open(dir["missing.log"]));
    }

    [Fact]
    public void LogGroup_StreamNames_OnlyWellFormedStreamsOfMatchingJobs()
    {
        using var dir = new TempDirectory();
        foreach (var (job, host) in new[] { ("job-a", "algo-1-17"), ("job-a", "algo-2-17"), ("job-b", "algo-1-18") })
        {
            using var w = new LogStreamWriter(Path.Combine(dir.Path, job, "logs", host + ".log"));
            w.Write("x", 1);
        }

        dir.Write("job-b/logs/notes.idx", "not a stream");
        var group = new TrainingJobLogGroup(dir.Path);
        Assert.Equal(["job-a/algo-1-17", "job-a/algo-2-17", "job-b/algo-1-18"], group.StreamNames(null));
        Assert.Equal(["job-a/algo-1-17", "job-a/algo-2-17"], group.StreamNames("job-a/"));
        Assert.Equal(["job-a/algo-2-17"], group.StreamNames("job-a/algo-2"));
        Assert.Empty(group.StreamNames("job-c"));
        Assert.Null(group.LogPathOf("../etc/algo-1-1"));
        Assert.Null(group.LogPathOf("job-a/../../x"));
        Assert.False(group.Exists("job-a/algo-3-17"));
        var info = group.Describe("job-b/algo-1-18")!;
        Assert.Equal(1, info.FirstEventTimestamp);
    }
}
