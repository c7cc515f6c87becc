using System.Collections.Concurrent;

namespace Trainyard.DataPlane.FastFile;

/// <summary>Pinned arrays of one block size, reused.</summary>
internal sealed class BlockPool(int blockSize, int maxPooled)
{
    private readonly ConcurrentBag<byte[]> _free = [];

    public int BlockSize => blockSize;

    public byte[] Rent() => _free.TryTake(out var array) ? array : GC.AllocateUninitializedArray<byte>(blockSize, pinned: true);

    public void Return(byte[] array)
    {
        if (array.Length == blockSize && _free.Count < maxPooled)
        {
            _free.Add(array);
        }
    }
}
