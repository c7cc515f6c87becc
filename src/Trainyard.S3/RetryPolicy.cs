using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;

namespace Trainyard.S3;

/// <summary>
/// Which failures are worth another try (throttling, 5xx, dropped connections) and how long to wait:
/// exponential back-off with full jitter, so parallel ranges that failed together do not retry in lockstep.
/// </summary>
internal sealed class RetryPolicy(int maxRetries, TimeSpan baseDelay, TimeSpan maxDelay)
{
    public int MaxRetries { get; } = maxRetries;

    public bool ShouldRetry(Exception e, int attempt, CancellationToken cancellationToken) =>
        attempt < MaxRetries && !cancellationToken.IsCancellationRequested && IsTransient(e);

    public Task DelayAsync(int attempt, CancellationToken cancellationToken)
    {
        var cap = Math.Min(maxDelay.TotalMilliseconds, baseDelay.TotalMilliseconds * Math.Pow(2, attempt - 1));
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
        var ms = (cap / 2) + (Random.Shared.NextDouble() * cap / 2);
#pragma warning restore CA5394
        return Task.Delay(TimeSpan.FromMilliseconds(ms), cancellationToken);
    }

    /// <summary>Runs <paramref name="operation"/>, retrying transient failures.</summary>
    public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await operation(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (ShouldRetry(e, attempt, cancellationToken))
            {
                await DelayAsync(attempt + 1, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public static bool IsTransient(Exception e) => e switch
    {
        AmazonS3Exception s3 => IsTransientStatus(s3.StatusCode) || s3.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError",
        S3ResponseException r => IsTransientStatus(r.StatusCode) || r.ErrorCode is "SlowDown" or "RequestTimeout" or "InternalError",
        AmazonServiceException { InnerException: { } inner } => IsTransient(inner),
        HttpRequestException h => h.StatusCode is null || IsTransientStatus(h.StatusCode.Value),
        IOException or SocketException => true,

        // HttpClient reports its own timeout and a stalled read (our idle timer) as a cancellation.
        OperationCanceledException => true,
        _ => false,
    };

    private static bool IsTransientStatus(HttpStatusCode status) =>
        status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;
}
