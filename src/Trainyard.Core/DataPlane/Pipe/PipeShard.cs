namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// This host's place among the hosts of a <c>ShardedByS3Key</c> channel, for a Pipe channel that shards each
/// epoch itself. With it, <see cref="PipeChannel.RunAsync"/> takes the whole channel and streams, each
/// epoch, the items at positions <c>HostIndex</c>, <c>HostIndex + HostCount</c>, … of that epoch's order.
/// Every host computes the same order (key order, or the shuffle of (seed, epoch)), so the shares are
/// disjoint and cover the channel; with ShuffleConfig an object can go to a different host each epoch, as
/// SageMaker documents for ShuffleConfig with ShardedByS3Key.
/// </summary>
/// <param name="HostIndex">0-based index of this host (algo-1 is 0).</param>
/// <param name="HostCount">Number of hosts.</param>
public sealed record PipeShard(int HostIndex, int HostCount)
{
    internal IReadOnlyList<T> Select<T>(IReadOnlyList<T> items)
    {
        var share = new List<T>((items.Count / HostCount) + 1);
        for (var i = HostIndex; i < items.Count; i += HostCount)
        {
            share.Add(items[i]);
        }

        return share;
    }
}
