using Trainyard.DataPlane.Pipe;

namespace Trainyard.Tests.DataPlane.Pipe;

public class DeterministicShuffleTests
{
    private static readonly int[] Items = Enumerable.Range(0, 50).ToArray();

    [Fact]
    public void Shuffle_SameSeedAndEpoch_SameOrder() =>
        Assert.Equal(DeterministicShuffle.Shuffle(Items, 42, 3), DeterministicShuffle.Shuffle(Items, 42, 3));

    [Fact]
    public void Shuffle_AnyEpoch_IsPermutation() =>
        Assert.Equal(Items, DeterministicShuffle.Shuffle(Items, 7, 1).Order());

    [Fact]
    public void Shuffle_DifferentEpochsOrSeeds_DifferentOrders()
    {
        Assert.NotEqual(DeterministicShuffle.Shuffle(Items, 42, 0), DeterministicShuffle.Shuffle(Items, 42, 1));
        Assert.NotEqual(DeterministicShuffle.Shuffle(Items, 42, 0), DeterministicShuffle.Shuffle(Items, 43, 0));
        Assert.NotEqual(Items, DeterministicShuffle.Shuffle(Items, 42, 0));
    }

    [Fact]
    public void Shuffle_KnownSeed_PinnedOrder()
    {
        // Pinned so that the documented algorithm cannot drift; pipe_reader.py reimplements it independently.
        Assert.Equal([2, 8, 9, 7, 1, 4, 6, 0, 5, 3], DeterministicShuffle.Shuffle(Enumerable.Range(0, 10).ToArray(), 42, 0));
    }

    [Fact]
    public void Shuffle_EmptyAndSingle_Unchanged()
    {
        Assert.Empty(DeterministicShuffle.Shuffle(Array.Empty<int>(), 1, 0));
        Assert.Equal([9], DeterministicShuffle.Shuffle([9], 1, 0));
    }
}
