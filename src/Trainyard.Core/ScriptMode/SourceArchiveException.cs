namespace Trainyard.ScriptMode;

/// <summary>The source directory cannot be fetched or unpacked; the message names the archive and the entry.</summary>
public sealed class SourceArchiveException(string message) : Exception(message);
