namespace Trainyard.Storage;

/// <summary>One object as a listing reports it.</summary>
public sealed record ObjectInfo(S3Location Location, long Size, DateTimeOffset LastModified, string? ETag = null);
