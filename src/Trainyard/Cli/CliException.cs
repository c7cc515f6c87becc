namespace Trainyard.Cli;

/// <summary>A problem to show the user as one line, without a stack trace.</summary>
public sealed class CliException(string message) : Exception(message);
