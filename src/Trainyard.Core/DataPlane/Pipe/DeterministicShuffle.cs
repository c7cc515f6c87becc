namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// The order of one epoch under ShuffleConfig: stable across .NET versions and platforms because it uses
/// nothing from <see cref="Random"/>. The algorithm, so it can be reproduced elsewhere:
/// <list type="number">
/// <item>State: <c>s = mix(mix((ulong)seed) ^ (ulong)epoch)</c>, where <c>mix</c> is SplitMix64's finaliser
/// (<c>z = (z ^ z &gt;&gt; 30) * 0xBF58476D1CE4E5B9; z = (z ^ z &gt;&gt; 27) * 0x94D049BB133111EB; z ^ z &gt;&gt; 31</c>).</item>
/// <item>Generator: SplitMix64, <c>s += 0x9E3779B97F4A7C15; next = mix(s)</c>.</item>
/// <item>Bounded draw in [0, n): rejection sampling, discard <c>r &lt; (2^64 - n) mod n</c>, return <c>r mod n</c> (unbiased).</item>
/// <item>Fisher–Yates (Durstenfeld): for <c>i = n-1</c> down to 1, swap items <c>i</c> and <c>draw(i+1)</c>.</item>
/// </list>
/// </summary>
public static class DeterministicShuffle
{
    /// <summary>A shuffled copy of <paramref name="items"/> for (<paramref name="seed"/>, <paramref name="epoch"/>).</summary>
    public static T[] Shuffle<T>(IReadOnlyList<T> items, long seed, int epoch)
    {
        ArgumentNullException.ThrowIfNull(items);
        var result = items.ToArray();
        ShuffleInPlace(result, seed, epoch);
        return result;
    }

    /// <summary>Shuffles <paramref name="items"/> in place for (<paramref name="seed"/>, <paramref name="epoch"/>).</summary>
    public static void ShuffleInPlace<T>(Span<T> items, long seed, int epoch)
    {
        var state = Mix(Mix(unchecked((ulong)seed)) ^ unchecked((ulong)epoch));
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = (int)Draw(ref state, (ulong)i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong Draw(ref ulong state, ulong bound)
    {
        var threshold = unchecked(0UL - bound) % bound;
        while (true)
        {
            var r = Next(ref state);
            if (r >= threshold)
            {
                return r % bound;
            }
        }
    }

    private static ulong Next(ref ulong state)
    {
        state = unchecked(state + 0x9E3779B97F4A7C15UL);
        return Mix(state);
    }

    private static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
