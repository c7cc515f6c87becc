using Microsoft.Extensions.Logging;

namespace Trainyard.Supervision;

/// <summary>
/// Owns a background loop: runs it, and when it fails with an unexpected error logs the error and runs it
/// again after a back-off (0.1 s, doubling to 10 s; reset once the loop has run a minute without failing).
/// A loop ends for good when it returns or when its token is cancelled. Loops are written to resume: they
/// read what they work on from durable state each time they start.
/// </summary>
public static partial class Supervisor
{
    private static readonly TimeSpan FirstBackOff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxBackOff = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Healthy = TimeSpan.FromMinutes(1);

    /// <summary>Starts <paramref name="loop"/> under supervision; the task ends when the loop has ended for good.</summary>
    public static Task Run(string name, Func<CancellationToken, Task> loop, ILogger logger, CancellationToken cancellationToken) =>
        Task.Run(() => SuperviseAsync(name, loop, logger, cancellationToken), CancellationToken.None);

    private static async Task SuperviseAsync(string name, Func<CancellationToken, Task> loop, ILogger logger, CancellationToken cancellationToken)
    {
        var backOff = FirstBackOff;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = DateTimeOffset.UtcNow;
            try
            {
                await loop(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                if (DateTimeOffset.UtcNow - started > Healthy)
                {
                    backOff = FirstBackOff;
                }

                failures++;
                LogRestarting(logger, e, name, failures, backOff.TotalSeconds);
            }

            try
            {
                await Task.Delay(backOff, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backOff = TimeSpan.FromTicks(Math.Min(backOff.Ticks * 2, MaxBackOff.Ticks));
        }
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "{Loop} failed ({Failures} so far); restarting it in {Seconds} s")]
    private static partial void LogRestarting(ILogger logger, Exception exception, string loop, int failures, double seconds);
}
