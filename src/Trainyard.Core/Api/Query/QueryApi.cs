using Microsoft.AspNetCore.Http;
using Trainyard.Api.CloudWatch;
using Trainyard.Api.Sts;
using Trainyard.Model;

namespace Trainyard.Api.Query;

/// <summary>
/// The query-protocol services on the port — CloudWatch (<c>monitoring</c>) and STS (<c>sts</c>) — told apart
/// by the service in the credential scope, or by the action when a request is not signed.
/// </summary>
public sealed class QueryApi(CloudWatchApi cloudWatch, StsApi sts)
{
    /// <summary>Form bodies larger than this are refused (botocore's CloudWatch and STS requests are a few KiB).</summary>
    private const int MaxFormBytes = 1 << 20;

    public async Task HandleAsync(HttpContext context, AwsSignature? signature)
    {
        var requestId = Guid.NewGuid().ToString();
        context.Response.Headers["x-amzn-RequestId"] = requestId;
        var service = signature?.Service;
        var ns = service == "sts" ? StsApi.XmlNamespace : CloudWatchApi.XmlNamespace;
        try
        {
            var (body, length) = await AwsJsonProtocol.ReadBodyAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
            if (body is null || length > MaxFormBytes)
            {
                throw new ApiException("InvalidParameterValue", 413, $"The request body is {length} bytes; the largest accepted is {MaxFormBytes} bytes.");
            }

            var pairs = context.Request.Query.Select(q => new KeyValuePair<string, string>(q.Key, q.Value.ToString())).ToList();
            if (context.Request.HasFormContentType)
            {
                var form = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(System.Text.Encoding.UTF8.GetString(body, 0, length));
                pairs.AddRange(form.Select(f => new KeyValuePair<string, string>(f.Key, f.Value.ToString())));
            }

            var request = QueryRequest.Parse(pairs);
            if (request.Action.Length == 0)
            {
                throw new ApiException("MissingAction", 400, "The request must contain the parameter Action.");
            }

            service ??= StsApi.Model.Operations.ContainsKey(request.Action) ? "sts" : "monitoring";
            ns = service == "sts" ? StsApi.XmlNamespace : CloudWatchApi.XmlNamespace;
            switch (service)
            {
                case "sts":
                    await sts.HandleAsync(request, signature, context.Response, requestId).ConfigureAwait(false);
                    break;
                case "monitoring":
                    await cloudWatch.HandleAsync(request, context.Response, requestId).ConfigureAwait(false);
                    break;
                default:
                    throw new ApiException("InvalidAction", 400,
                        $"The action {request.Action} is not valid for service '{service}': Trainyard serves CloudWatch (monitoring) and STS over the query protocol.");
            }
        }
        catch (ApiException e) when (!context.Response.HasStarted)
        {
            await QueryProtocol.WriteErrorAsync(context.Response, ns, requestId, e).ConfigureAwait(false);
        }
    }
}
