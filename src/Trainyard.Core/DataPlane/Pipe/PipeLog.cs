using Microsoft.Extensions.Logging;

namespace Trainyard.DataPlane.Pipe;

internal static partial class PipeLog
{
    [LoggerMessage(EventId = 4100, Level = LogLevel.Information, Message = "Pipe channel {Channel}: epoch {Epoch} is ready at {Path}")]
    public static partial void FifoReady(ILogger logger, string channel, int epoch, string path);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Pipe channel {Channel}: epoch {Epoch} streamed {Bytes} bytes in {Seconds:F2} s")]
    public static partial void EpochCompleted(ILogger logger, string channel, int epoch, long bytes, double seconds);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Pipe channel {Channel}: the reader closed epoch {Epoch} after {Bytes} bytes; moving to the next epoch")]
    public static partial void ReaderClosedEarly(ILogger logger, string channel, int epoch, long bytes);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Debug, Message = "Pipe channel {Channel}: pipe buffer is {Size} bytes (asked for {Requested})")]
    public static partial void PipeSize(ILogger logger, string channel, int size, int requested);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Pipe channel {Channel}: stopped at epoch {Epoch}")]
    public static partial void Stopped(ILogger logger, string channel, int epoch);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Debug, Message = "Pipe channel {Channel}: splice(2) unsupported for this store's files; copied with read/write")]
    public static partial void CopyFallback(ILogger logger, string channel);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Debug, Message = "Pipe channel {Channel}: removed stale FIFO {Path}")]
    public static partial void RemovedStale(ILogger logger, string channel, string path);
}
