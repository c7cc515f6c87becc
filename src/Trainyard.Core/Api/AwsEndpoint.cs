using Microsoft.AspNetCore.Http;
using Trainyard.Api.CloudWatchLogs;
using Trainyard.Api.Query;

namespace Trainyard.Api;

/// <summary>
/// The one HTTP endpoint of a Trainyard server. It parses each request's AWS signature once, routes the
/// request by its protocol and by the service in its credential scope, and hands it to that service's
/// facade — each a thin layer of wire format over the same stores — so that
/// <c>AWS_ENDPOINT_URL=http://127.0.0.1:8080</c> sends a whole SageMaker workflow here.
/// </summary>
public sealed class AwsEndpoint(SageMakerApi sageMaker, CloudWatchLogsApi logs, QueryApi query, S3.S3Api s3, Auth.SigV4Verifier? verifier = null)
{
    /// <summary>Bodies of the JSON and query protocols are read whole to check their signature; none is larger.</summary>
    private const int MaxSignedBodyBytes = 2 << 20;

    public async Task HandleAsync(HttpContext context)
    {
        var signature = AwsSignature.Parse(context.Request, out _);
        context.Features.Set(signature);
        var service = Route(context.Request, signature);

        // Signatures are verified here, once, in front of every protocol; each answers a refusal in its own words.
        if (verifier is not null && service != AwsService.Ui && !await AuthenticateAsync(context, service, signature).ConfigureAwait(false))
        {
            return;
        }

        switch (service)
        {
            case AwsService.CloudWatchLogs:
                context.Response.Headers["x-amzn-RequestId"] = Guid.NewGuid().ToString();
                await logs.HandleAsync(context).ConfigureAwait(false);
                break;
            case AwsService.Query:
                await query.HandleAsync(context, signature).ConfigureAwait(false);
                break;
            case AwsService.S3:
                await s3.HandleAsync(context).ConfigureAwait(false);
                break;
            case AwsService.Ui:
                context.Response.StatusCode = 404;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync("Trainyard's dashboard is not part of this version.\n", context.RequestAborted).ConfigureAwait(false);
                break;
            default:
                await sageMaker.HandleAsync(context).ConfigureAwait(false);
                break;
        }
    }

    private async Task<bool> AuthenticateAsync(HttpContext context, AwsService service, AwsSignature? signature)
    {
        var request = context.Request;
        string payloadHash;
        if (service == AwsService.S3)
        {
            payloadHash = signature?.Presigned == true
                ? request.Query["X-Amz-Content-Sha256"] is { Count: > 0 } presignedHash ? presignedHash.ToString() : "UNSIGNED-PAYLOAD"
                : request.Headers["x-amz-content-sha256"].ToString();
        }
        else
        {
            // The JSON and query services sign the body's hash: read it (they are small), hash it, put it back.
            var buffer = new MemoryStream();
            var chunk = new byte[64 * 1024];
            int n;
            while ((n = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, n);
                if (buffer.Length > MaxSignedBodyBytes)
                {
                    break;
                }
            }

            buffer.Position = 0;
            payloadHash = Auth.SigV4Verifier.Hex(System.Security.Cryptography.SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
            request.Body = buffer;
        }

        var (verified, failure, message) = payloadHash.Length == 0 && signature is not null
            ? (null, Auth.AuthFailure.BadSignature, "S3 requests signed with Signature Version 4 must carry x-amz-content-sha256.")
            : verifier!.Verify(request, signature, payloadHash, service == AwsService.S3);
        if (verified is not null)
        {
            context.Features.Set(verified);
            return true;
        }

        await RefuseAsync(context, service, signature, failure, message).ConfigureAwait(false);
        return false;
    }

    // Each protocol's own refusal, all HTTP 403.
    private static async Task RefuseAsync(HttpContext context, AwsService service, AwsSignature? signature, Auth.AuthFailure failure, string message)
    {
        var requestId = Guid.NewGuid().ToString();
        switch (service)
        {
            case AwsService.S3:
                var code = failure switch
                {
                    Auth.AuthFailure.Missing or Auth.AuthFailure.Expired => "AccessDenied",
                    Auth.AuthFailure.UnknownKey => "InvalidAccessKeyId",
                    Auth.AuthFailure.Skewed => "RequestTimeTooSkewed",
                    _ => "SignatureDoesNotMatch",
                };
                var text = failure switch
                {
                    Auth.AuthFailure.Missing => "Access Denied",
                    Auth.AuthFailure.UnknownKey => "The AWS Access Key Id you provided does not exist in our records.",
                    Auth.AuthFailure.Skewed => "The difference between the request time and the current time is too large.",
                    _ => message,
                };
                await S3.S3Api.WriteErrorAsync(context, new S3.S3Exception(code, 403, text), "", "", requestId).ConfigureAwait(false);
                break;
            case AwsService.Query:
                var queryCode = failure switch
                {
                    Auth.AuthFailure.Missing => "MissingAuthenticationToken",
                    Auth.AuthFailure.UnknownKey => "InvalidClientTokenId",
                    _ => "SignatureDoesNotMatch",
                };
                var ns = signature?.Service == "sts" ? Sts.StsApi.XmlNamespace : CloudWatch.CloudWatchApi.XmlNamespace;
                context.Response.Headers["x-amzn-RequestId"] = requestId;
                await QueryProtocol.WriteErrorAsync(context.Response, ns, requestId, new Model.ApiException(queryCode, 403,
                    failure == Auth.AuthFailure.Missing ? "Request is missing Authentication Token" : message)).ConfigureAwait(false);
                break;
            default:
                var type = failure switch
                {
                    Auth.AuthFailure.Missing => "MissingAuthenticationTokenException",
                    Auth.AuthFailure.UnknownKey => "UnrecognizedClientException",
                    _ => "InvalidSignatureException",
                };
                context.Response.Headers["x-amzn-RequestId"] = requestId;
                await AwsJsonProtocol.WriteErrorAsync(context.Response, type, 403, message).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>
    /// Which service a request is for. <c>/ui</c> is the dashboard's before anything else (it is never a
    /// bucket); an <c>X-Amz-Target</c> names a JSON service; a form-encoded <c>POST /</c> or an
    /// <c>Action</c> query is the query protocol; a <c>POST /</c> signed for SageMaker or with nothing else
    /// to go by is SageMaker's (which answers a missing target in its own words); everything else is S3.
    /// </summary>
    public static AwsService Route(HttpRequest request, AwsSignature? signature)
    {
        var path = request.Path.Value ?? "/";
        if (path == "/ui" || path.StartsWith("/ui/", StringComparison.Ordinal))
        {
            return AwsService.Ui;
        }

        var target = request.Headers["X-Amz-Target"].ToString();
        if (target.Length > 0)
        {
            return target.StartsWith(CloudWatchLogsApi.TargetPrefix, StringComparison.Ordinal) ? AwsService.CloudWatchLogs : AwsService.SageMaker;
        }

        var root = path is "/" or "";
        if (root && signature?.Service is "logs")
        {
            return AwsService.CloudWatchLogs;
        }

        if (root && signature?.Service is "sagemaker" or "api.sagemaker")
        {
            return AwsService.SageMaker;
        }

        if (root && ((HttpMethods.IsPost(request.Method) && request.HasFormContentType) || request.Query.ContainsKey("Action")))
        {
            return AwsService.Query;
        }

        if (root && HttpMethods.IsPost(request.Method))
        {
            return AwsService.SageMaker;
        }

        return AwsService.S3;
    }
}
