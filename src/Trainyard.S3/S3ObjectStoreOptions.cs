namespace Trainyard.S3;

/// <summary>How <see cref="S3ObjectStore"/> reaches S3 and how hard it pushes transfers.</summary>
public sealed class S3ObjectStoreOptions
{
    /// <summary>Smallest part S3 accepts in a multipart upload (except the last one).</summary>
    public const int MinimumPartSize = 5 * 1024 * 1024;

    /// <summary>A custom endpoint (<c>http://127.0.0.1:4568</c>, MinIO, …); null means AWS's own endpoint for <see cref="Region"/>.</summary>
    public Uri? ServiceUrl { get; set; }

    /// <summary>The region requests are signed for.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Path-style addressing (<c>host/bucket/key</c>), which most S3-compatible servers need.</summary>
    public bool ForcePathStyle { get; set; }

    /// <summary>Explicit credentials; null uses the SDK's default chain (environment, profiles, instance role).</summary>
    public Amazon.Runtime.AWSCredentials? Credentials { get; set; }

    /// <summary>Bytes per multipart-upload part, and the smallest range a download splits an object into.</summary>
    public int PartSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Requests in flight at once across the whole store (ranged GETs, upload parts): the bound that
    /// keeps nested parallelism (many objects, each in many ranges) from opening unbounded connections.
    /// </summary>
    /// <remarks>
    /// The default, four per core with at least 8, keeps a remote S3 busy while leaving CPU for the work
    /// each stream costs (TLS, copying, hashing); more only contends on small machines.
    /// </remarks>
    public int Concurrency { get; set; } = Math.Max(8, 4 * Environment.ProcessorCount);

    /// <summary>Retries of one request after a throttle, a 5xx or a dropped connection.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>How long a GET may go without receiving a byte before it counts as a dropped connection (and is retried).</summary>
    public TimeSpan ReadIdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Back-off before the first retry; it doubles (with jitter) each time.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between two retries.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Fetch ranges with plain <see cref="HttpClient"/> GETs of presigned URLs instead of the SDK's
    /// GetObject, whose per-request pipeline costs more CPU than the transfer on small machines.
    /// </summary>
    public bool DirectHttpDownloads { get; set; } = true;

    /// <summary>Check a downloaded object's MD5 against its ETag when the ETag is one (single-part uploads).</summary>
    public bool VerifyMd5 { get; set; } = true;

    /// <summary>
    /// A PEM file of CA certificates trusted for HTTPS endpoints (AWS_CA_BUNDLE). It never applies to
    /// plain-http endpoints.
    /// </summary>
    public string? CaBundlePath { get; set; }

    /// <summary>Throws when a value is out of range, naming it.</summary>
    public void Validate()
    {
        if (PartSize < MinimumPartSize)
        {
            throw new ArgumentOutOfRangeException(nameof(PartSize), PartSize, $"S3 parts must be at least {MinimumPartSize} bytes.");
        }

        if (Concurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "Must be at least 1.");
        }

        if (MaxRetries < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, "Must not be negative.");
        }
    }
}
