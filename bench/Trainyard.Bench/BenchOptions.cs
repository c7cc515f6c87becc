namespace Trainyard.Bench;

/// <summary>Command-line options shared by the benchmarks.</summary>
internal sealed record BenchOptions(Uri? Endpoint, int Runs, string WorkDir, bool Keep, bool NoPageReporting = false)
{
    public static BenchOptions Parse(string[] args)
    {
        Uri? endpoint = null;
        var runs = 2;
        var work = "/tmp/trainyard-bench";
        var keep = false;
        var noPageReporting = false;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--endpoint":
                    endpoint = new Uri(args[++i]);
                    break;
                case "--runs":
                    runs = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "--work":
                    work = args[++i];
                    break;
                case "--keep":
                    keep = true;
                    break;
                case "--no-page-reporting":
                    noPageReporting = true;
                    break;
                default:
                    throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        return new BenchOptions(endpoint, runs, work, keep, noPageReporting);
    }
}
