namespace Trainyard.Api;

/// <summary>The services one Trainyard port answers, each in its own AWS protocol.</summary>
public enum AwsService
{
    /// <summary>SageMaker (AWS JSON 1.1, <c>X-Amz-Target: SageMaker.*</c>), and Trainyard's own <c>Trainyard.*</c> operations.</summary>
    SageMaker,

    /// <summary>CloudWatch Logs (AWS JSON 1.1, <c>X-Amz-Target: Logs_20140328.*</c>).</summary>
    CloudWatchLogs,

    /// <summary>CloudWatch metrics or STS: the query protocol (form-encoded <c>Action=…</c>, XML answers).</summary>
    Query,

    /// <summary>S3 (REST, path-style).</summary>
    S3,

    /// <summary>Trainyard's dashboard under <c>/ui</c>: never a bucket.</summary>
    Ui,
}
