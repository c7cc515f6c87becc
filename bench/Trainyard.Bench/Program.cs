using Trainyard.Bench;

// Each benchmark is a subcommand: `dotnet run -c Release --project bench/Trainyard.Bench -- <name> [options]`.
return args.FirstOrDefault() switch
{
    "pipe" => await PipeBench.RunAsync(args[1..]).ConfigureAwait(false),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Trainyard.Bench pipe [--gib N] [--objects N] [--gzip-mib N] [--runs N] [--dir DIR]");
    return 2;
}
