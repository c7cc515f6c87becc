using Microsoft.Extensions.Logging;

namespace Trainyard.DataPlane.FastFile;

internal static partial class Log
{
    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "FastFile: mounted {Files} files ({Bytes} bytes) at {MountPoint}")]
    public static partial void Mounted(ILogger logger, string mountPoint, int files, long bytes);

    [LoggerMessage(EventId = 501, Level = LogLevel.Information, Message = "FastFile: unmounted {MountPoint}")]
    public static partial void Unmounted(ILogger logger, string mountPoint);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "FastFile: cannot unmount {MountPoint}: {Error}")]
    public static partial void UnmountFailed(ILogger logger, string mountPoint, string error);

    [LoggerMessage(EventId = 503, Level = LogLevel.Error, Message = "FastFile: reading {Location} at offset {Offset} failed; the algorithm's read gets EIO: {Error}")]
    public static partial void ReadFailed(ILogger logger, string location, long offset, string error);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "FastFile: '{Path}' is not shown: another object's key uses it as a directory (or the other way round)")]
    public static partial void Skipped(ILogger logger, string path);

    [LoggerMessage(EventId = 505, Level = LogLevel.Error, Message = "FastFile: the FUSE device failed: {Error}")]
    public static partial void DeviceFailed(ILogger logger, string error);
}
