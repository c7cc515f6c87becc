using Microsoft.AspNetCore.Http;
using Trainyard.Api.Query;
using Trainyard.Model;

namespace Trainyard.Api.Sts;

/// <summary>
/// STS's GetCallerIdentity (query protocol), which the SageMaker SDK calls to name its default bucket
/// (<c>sagemaker-&lt;region&gt;-&lt;account&gt;</c>): the server's account (<c>--account-id</c>) and the caller's
/// access key. Credentials are not checked (yet), so every caller is the same user of that account.
/// </summary>
public sealed class StsApi(TrainyardOptions options)
{
    public const string XmlNamespace = "https://sts.amazonaws.com/doc/2011-06-15/";

    private static readonly Lazy<ServiceModel> LazyModel = new(() => ServiceModel.Load("sts-api.json"));

    public static ServiceModel Model => LazyModel.Value;

    public async Task HandleAsync(QueryRequest request, AwsSignature? signature, HttpResponse response, string requestId)
    {
        if (request.Action != "GetCallerIdentity")
        {
            throw new ApiException("InvalidAction", 400, $"Could not find operation {request.Action} for version 2011-06-15: Trainyard serves STS's GetCallerIdentity.");
        }

        QueryRequest.Read(request.ToJson(Model, "GetCallerIdentityRequest"), Model, "GetCallerIdentityRequest", QueryJsonContext.Default.EmptyQueryInput);
        await QueryProtocol.WriteAsync(response, XmlNamespace, request.Action, requestId, xml =>
        {
            xml.WriteElementString("Arn", XmlNamespace, $"arn:aws:iam::{options.AccountId}:user/trainyard");
            xml.WriteElementString("UserId", XmlNamespace, signature?.AccessKeyId ?? "AIDATRAINYARD");
            xml.WriteElementString("Account", XmlNamespace, options.AccountId);
        }).ConfigureAwait(false);
    }
}
