namespace Trainyard.Images.Cache;

/// <summary>How far a pull is: bytes downloaded of those to download, layers unpacked of those missing.</summary>
public readonly record struct PullProgress(long BytesDone, long BytesTotal, int LayersDone, int LayersTotal);
