using Trainyard.Bench;

// Benchmarks that compare Trainyard with its peers on this machine; see docs/benchmarks.md for the
// commands and the numbers. Usage: trainyard-bench <benchmark> [options]
var benchmarks = new Dictionary<string, Func<string[], Task<int>>>(StringComparer.Ordinal)
{
    ["startup"] = StartupBench.RunAsync,
    ["image-start"] = ImageBench.StartAsync,
    ["image-pull"] = ImageBench.PullAsync,
    ["seed"] = SeedBench.RunAsync,
    ["query"] = QueryBench.RunAsync,
    ["algorithms"] = AlgorithmBench.RunAsync,
    ["pipe"] = PipeBench.RunAsync,
    ["pipe-s3"] = PipeS3Bench.RunAsync,
    ["slurm"] = SlurmBench.RunAsync,
    ["s3-download"] = a => S3DownloadBenchmark.RunAsync(BenchOptions.Parse(a)),
    ["s3-upload"] = a => S3UploadBenchmark.RunAsync(BenchOptions.Parse(a)),
    ["fastfile"] = FastFileBench.RunAsync,
    ["logs"] = LogsBench.RunAsync,
};

if (args.Length == 0 || !benchmarks.TryGetValue(args[0], out var run))
{
    Console.Error.WriteLine($"usage: trainyard-bench <{string.Join("|", benchmarks.Keys)}> [options]");
    return 2;
}

return await run(args[1..]);
