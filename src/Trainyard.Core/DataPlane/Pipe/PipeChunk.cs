namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// One unit of work for the FIFO writer: bytes in a pooled buffer, or a whole local file (an open
/// descriptor the writer splices from and then closes).
/// </summary>
internal readonly record struct PipeChunk(byte[]? Buffer, int Count, int FileDescriptor, string? Source)
{
    public static PipeChunk Bytes(byte[] buffer, int count) => new(buffer, count, -1, null);

    public static PipeChunk File(int fileDescriptor, string source) => new(null, 0, fileDescriptor, source);
}
