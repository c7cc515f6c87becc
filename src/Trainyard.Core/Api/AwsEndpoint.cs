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
public sealed class AwsEndpoint(SageMakerApi sageMaker, CloudWatchLogsApi logs, QueryApi query, S3.S3Api s3)
{
    public async Task HandleAsync(HttpContext context)
    {
        var signature = AwsSignature.Parse(context.Request, out _);
        context.Features.Set(signature);

        // Signature verification belongs here, once, in front of every protocol: `signature` carries the
        // access key, scope, signed headers and signature, and each facade answers its own error form.
        switch (Route(context.Request, signature))
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
