using Spectre.Console;

namespace Trainyard.Cli;

/// <summary>The console the CLI writes to: colours on a terminal, and never wrapped lines when piped.</summary>
internal static class Terminal
{
    public static readonly IAnsiConsole Console = Create();

    private static IAnsiConsole Create()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings());
        if (System.Console.IsOutputRedirected)
        {
            console.Profile.Width = 100_000;
        }

        return console;
    }
}
