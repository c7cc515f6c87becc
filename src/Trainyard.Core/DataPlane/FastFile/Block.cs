namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// One cached block of a file: a pooled, pinned array and a reference count. The cache holds one
/// reference; a reader holds one while the kernel copies from it. The array goes back to the pool when
/// the last reference goes, so a reader never sees it refilled under it, and steady streaming reuses
/// the same memory instead of faulting in fresh pages for every megabyte.
/// </summary>
internal sealed class Block(byte[] data, int length, BlockPool pool)
{
    private int _references = 1;

    public byte[] Data { get; } = data;

    public int Length { get; } = length;

    /// <summary>Takes a reference unless the block has already gone back to the pool.</summary>
    public bool TryAddReference()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            pool.Return(Data);
        }
    }
}
