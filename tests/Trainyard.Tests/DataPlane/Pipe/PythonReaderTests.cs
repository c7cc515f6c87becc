using System.Diagnostics;
using System.Text.Json;
using Trainyard.DataPlane.Pipe;

namespace Trainyard.Tests.DataPlane.Pipe;

/// <summary>A real reader in another process: Debian's /usr/bin/python3 (stdlib only) reads epochs 0..2.</summary>
public class PythonReaderTests
{
    private const string Python = "/usr/bin/python3";

    [Theory]
    [InlineData("None", "None", null)]
    [InlineData("None", "None", 11L)]
    [InlineData("None", "RecordIO", 11L)]
    [InlineData("Gzip", "None", null)]
    [InlineData("Gzip", "RecordIO", 5L)]
    public async Task PythonReader_Epochs0To2_EveryByteAndFrameMatchesStore(string compression, string wrapper, long? seed)
    {
        await using var bed = new PipeTestBed();
        var random = new Random(21);
        var gzip = compression == "Gzip";
        var sizes = new[] { 0, 1, 4099, 1 << 20, RecordIOWriter.InMemoryLimit + 5, 333 };
        var objects = sizes.Select((size, i) => bed.Put($"train/obj-{i:D2}", RecordIOTests.RandomPayload(random, size), gzip)).ToList();
        bed.Start(objects, new PipeChannelOptions("train", compression, wrapper, seed, "S3Prefix", null));

        var config = Path.Combine(bed.Root, "reader.json");
        await File.WriteAllTextAsync(config, JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["data_dir"] = bed.DataDir,
            ["channel"] = "train",
            ["epochs"] = 3,
            ["files"] = objects.Select(o => bed.Store.PathOf(o.Location)).ToArray(),
            ["gzip"] = gzip,
            ["recordio"] = wrapper == "RecordIO",
            ["seed"] = seed,
            ["timeout"] = 50,
        }), bed.Timeout);

        var script = Path.Combine(AppContext.BaseDirectory, "DataPlane", "Pipe", "pipe_reader.py");
        using var process = Process.Start(new ProcessStartInfo(Python, [script, config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync(bed.Timeout);
        var stderr = process.StandardError.ReadToEndAsync(bed.Timeout);
        try
        {
            await process.WaitForExitAsync(bed.Timeout);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        Assert.True(process.ExitCode == 0, $"python reader failed: {await stderr}{await stdout}");
        Assert.StartsWith("ok epochs=3", await stdout, StringComparison.Ordinal);
        await bed.StopAsync();
        Assert.Empty(Directory.GetFileSystemEntries(bed.DataDir));
    }

    [Fact]
    public async Task ReaderProcessDies_MidEpoch_NextEpochServedWhole()
    {
        await using var bed = new PipeTestBed();
        var content = RecordIOTests.RandomPayload(new Random(3), 6 << 20);
        bed.Start([bed.Put("big", content)], new PipeChannelOptions("train", "None", "None", null, "S3Prefix", null));
        while (!File.Exists(bed.Fifo("train", 0)))
        {
            await Task.Delay(5, bed.Timeout);
        }

        // A reader process that reads a little and is killed (SIGKILL) while the writer is mid-epoch.
        using (var reader = Process.Start(Python, ["-c", $"import os, signal; f = open({JsonSerializer.Serialize(bed.Fifo("train", 0))}, 'rb'); f.read(1000); os.kill(os.getpid(), signal.SIGKILL)"])!)
        {
            await reader.WaitForExitAsync(bed.Timeout);
            Assert.Equal(137, reader.ExitCode);
        }

        Assert.Equal(content, await bed.ReadEpochAsync("train", 1));
        Assert.False(File.Exists(bed.Fifo("train", 0)));
    }
}
