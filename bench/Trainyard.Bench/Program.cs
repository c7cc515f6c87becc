using Trainyard.Bench;

return args.FirstOrDefault() switch
{
    "s3-download" => await S3DownloadBenchmark.RunAsync(BenchOptions.Parse(args[1..])),
    "s3-upload" => await S3UploadBenchmark.RunAsync(BenchOptions.Parse(args[1..])),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: Trainyard.Bench s3-download|s3-upload [--endpoint URL] [--runs N] [--work DIR] [--keep]
          --endpoint  an S3-compatible server (default: starts s3rver via .ci/s3rver.sh on port 4599)
          --runs      timed runs per tool (best is reported; default 2)
          --work      scratch directory for data (default /tmp/trainyard-bench; deleted afterwards)
        Credentials S3RVER/S3RVER; baselines run /usr/bin/aws and rclone.
        """);
    return 2;
}
