namespace Trainyard.Images.Cache;

/// <summary>What a prune removed.</summary>
public readonly record struct PruneResult(int Layers, long Bytes);
