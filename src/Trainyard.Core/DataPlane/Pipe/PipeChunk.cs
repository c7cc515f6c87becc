namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// One unit of work for the FIFO writer: bytes in a pooled buffer, or a range of a local file that the
/// writer splices from (<see cref="Length"/> -1: to the end of the file). A file chunk holds one reference
/// to its <see cref="LocalFile"/>.
/// </summary>
internal readonly record struct PipeChunk(byte[]? Buffer, int Count, LocalFile? File, long Offset, long Length)
{
    public static PipeChunk Bytes(byte[] buffer, int count) => new(buffer, count, null, 0, 0);

    public static PipeChunk FileRange(LocalFile file, long offset, long length) => new(null, 0, file, offset, length);
}
