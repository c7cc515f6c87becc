using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.DataPlane.Pipe;
using Trainyard.Storage;

namespace Trainyard.Bench;

/// <summary>
/// Pipe mode from s3rver: a channel of 4 × 128 MiB objects streamed by PipeChannel (S3 store) into a FIFO
/// read by <c>dd of=/dev/null</c>, against <c>/usr/bin/aws s3 cp s3://… -</c> of the same objects into the
/// same reader. Usage: pipe-s3 [--runs N] [--endpoint URL]
/// </summary>
internal static class PipeS3Bench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = BenchOptions.Parse(args);
        var env = await BenchEnvironment.StartAsync(options);
        var work = Path.Combine(options.WorkDir, "pipe-s3");
        Directory.CreateDirectory(work);
        try
        {
            using var store = env.CreateStore();
            var bucket = "bench-pipe";
            await BenchEnvironment.TimeShellAsync($"/usr/bin/aws --endpoint-url {env.EndpointText} s3 mb s3://{bucket} || true");
            var seed = Path.Combine(work, "seed.bin");
            await BenchEnvironment.TimeShellAsync($"head -c {128 << 20} /dev/urandom > {seed}");
            for (var i = 0; i < 4; i++)
            {
                await store.UploadAsync(new S3Location(bucket, $"pipe/part-{i}.bin"), async (s, ct) =>
                {
                    await using var f = File.OpenRead(seed);
                    await f.CopyToAsync(s, 1 << 20, ct);
                }, CancellationToken.None);
            }

            File.Delete(seed);
            var objects = new List<ObjectInfo>();
            await foreach (var o in store.ListAsync(new S3Location(bucket, "pipe/"), CancellationToken.None))
            {
                objects.Add(o);
            }

            var bytes = objects.Sum(o => o.Size);
            var keys = string.Join(' ', objects.Select(o => o.Location.ToString()));
            var aws = new List<double>();
            var pipe = new List<double>();
            var dataDir = Path.Combine(work, "data");
            Directory.CreateDirectory(dataDir);
            using var stop = new CancellationTokenSource();
            var channel = PipeChannel.RunAsync(store, objects, dataDir, new PipeChannelOptions("train", "None", "None", null, "S3Prefix", null), NullLogger.Instance, stop.Token);
            for (var run = 0; run < options.Runs; run++)
            {
                aws.Add(await BenchEnvironment.TimeShellAsync(
                    $"for k in {keys}; do /usr/bin/aws --endpoint-url {env.EndpointText} s3 cp $k - ; done | dd of=/dev/null bs=1M status=none"));
                var fifo = PipeChannel.FifoPath(dataDir, "train", run);
                while (!File.Exists(fifo))
                {
                    await Task.Delay(1);
                }

                pipe.Add(await BenchEnvironment.TimeShellAsync($"dd if={fifo} of=/dev/null bs=1M status=none"));
            }

            await stop.CancelAsync();
            await channel;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"pipe from s3rver, {objects.Count} × {objects[0].Size >> 20} MiB: PipeChannel best {bytes / pipe.Min() / 1e6:F0} MB/s vs aws s3 cp - best {bytes / aws.Min() / 1e6:F0} MB/s (runs {string.Join(", ", aws.Select(t => (bytes / t / 1e6).ToString("F0", CultureInfo.InvariantCulture)))}), PipeChannel best {bytes / pipe.Min() / 1e6:F0} MB/s (runs {string.Join(", ", pipe.Select(t => (bytes / t / 1e6).ToString("F0", CultureInfo.InvariantCulture)))}); ratio {aws.Min() / pipe.Min():F2}×"));
            await store.DeleteAsync(new S3Location(bucket, "pipe/part-0.bin"), CancellationToken.None);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
            env.Stop();
        }

        return 0;
    }
}
