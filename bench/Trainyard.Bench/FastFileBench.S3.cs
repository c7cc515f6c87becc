using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Trainyard.DataPlane.FastFile;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.Bench;

internal static partial class FastFileBench
{
    /// <summary>
    /// The same sequential read against an S3-compatible server (s3rver): parallel ranged GETs, the
    /// FastFile mount over that server, and Debian's s3fs mounted on the same bucket.
    /// </summary>
    private static async Task OverS3Async(string root, Uri endpoint, int mib, int runs)
    {
        using var store = new HttpS3Store(endpoint);
        var file = Path.Combine(root, "s3-big.bin");
        var rng = new Random(2);
        var chunk = new byte[1 << 20];
        await using (var f = File.Create(file))
        {
            for (var i = 0; i < mib; i++)
            {
                rng.NextBytes(chunk);
                await f.WriteAsync(chunk);
            }
        }

        var location = S3Location.Parse("s3://ffbench/seq/big.bin");
        await store.PutAsync(location, file, CancellationToken.None);
        File.Delete(file);
        var info = (await store.HeadAsync(location, CancellationToken.None))!;
        var objects = new List<ChannelObject> { new(info, "big.bin") };
        var reader = """
            import sys, time
            buf = memoryview(bytearray(int(sys.argv[2]) * 1024))
            t = time.perf_counter()
            n = 0
            with open(sys.argv[1], 'rb', buffering=0) as f:
                while True:
                    r = f.readinto(buf)
                    if not r:
                        break
                    n += r
            print(n / (time.perf_counter() - t) / 1e6)
            """;
        var passwd = Path.Combine(root, "s3fs-passwd");
        await File.WriteAllTextAsync(passwd, "S3RVER:S3RVER\n" /* s3rver's built-in key pair */);
        File.SetUnixFileMode(passwd, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var gets = new List<double>();
        var fastFile = new List<double>();
        var s3fs = new List<double>();
        var readKiB = ReadKiB.ToString(CultureInfo.InvariantCulture);
        for (var run = -1; run < runs; run++)
        {
            var g = await StoreParallelAsync(store, info, 16, 8 << 20);
            var mountPoint = Path.Combine(root, "mnt-s3");
            double ff;
            await using (var mount = await FastFileMount.MountAsync(store, objects, mountPoint, new FastFileOptions { Threads = Threads }, NullLogger.Instance, CancellationToken.None))
            {
                ff = double.Parse(await PythonAsync(reader, Path.Combine(mountPoint, "big.bin"), readKiB), CultureInfo.InvariantCulture);
            }

            var s3fsPoint = Path.Combine(root, "mnt-s3fs");
            Directory.CreateDirectory(s3fsPoint);
            using (var p = Process.Start("s3fs", ["ffbench", s3fsPoint, "-o", "url=" + endpoint.ToString().TrimEnd('/'), "-o", "use_path_request_style", "-o", "passwd_file=" + passwd, "-o", "ro"]))
            {
                await p.WaitForExitAsync();
            }

            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (MountInfo.DeviceOf(s3fsPoint) is null && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }

            double sf;
            try
            {
                sf = double.Parse(await PythonAsync(reader, Path.Combine(s3fsPoint, "seq", "big.bin"), readKiB), CultureInfo.InvariantCulture);
            }
            finally
            {
                using var u = Process.Start("fusermount3", ["-u", "-z", s3fsPoint]);
                await u.WaitForExitAsync();
            }

            if (run >= 0)
            {
                gets.Add(g);
                fastFile.Add(ff);
                s3fs.Add(sf);
            }
        }

        static string All(List<double> v) => string.Join(", ", v.Select(x => x.ToString("F0", CultureInfo.InvariantCulture)));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"s3 ({endpoint}) object={mib} MiB runs={runs} reads={ReadKiB} KiB: parallel ranged GETs (16 x 8 MiB) {Median(gets):F0} MB/s [{All(gets)}]; FastFile mount {Median(fastFile):F0} MB/s [{All(fastFile)}]; s3fs {Median(s3fs):F0} MB/s [{All(s3fs)}]; FastFile/GETs {Median(fastFile) / Median(gets):P0}, FastFile/s3fs {Median(fastFile) / Median(s3fs):P0}"));
    }
}
