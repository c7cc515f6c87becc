using Amazon.Runtime;

namespace Trainyard.S3;

/// <summary>Hands the SDK the store's own connection pool, so SDK calls and direct GETs share connections and limits.</summary>
internal sealed class SharedHttpClientFactory(HttpMessageHandler handler) : HttpClientFactory
{
    public override HttpClient CreateHttpClient(IClientConfig clientConfig) =>
        new(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    public override bool UseSDKHttpClientCaching(IClientConfig clientConfig) => false;

    public override bool DisposeHttpClientsAfterUse(IClientConfig clientConfig) => false;

    public override string GetConfigUniqueString(IClientConfig clientConfig) => "trainyard-s3";
}
