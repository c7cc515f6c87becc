using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Trainyard.S3;

/// <summary>Builds the one connection pool a store uses, sized to its concurrency.</summary>
internal static class S3HttpHandlerFactory
{
    public static SocketsHttpHandler Create(S3ObjectStoreOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            // A few spare connections above the request bound, for metadata calls beside transfers.
            MaxConnectionsPerServer = options.Concurrency + 4,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            AllowAutoRedirect = false,
        };

        if (options.CaBundlePath is { Length: > 0 } bundle && File.Exists(bundle))
        {
            // Only TLS handshakes consult this callback, so a bundle can never affect a plain-http endpoint.
            var trusted = new X509Certificate2Collection();
            trusted.ImportFromPemFile(bundle);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    errors == SslPolicyErrors.None || (certificate is not null && ChainsTo(certificate, trusted, errors)),
            };
        }

        return handler;
    }

    private static bool ChainsTo(X509Certificate certificate, X509Certificate2Collection trusted, SslPolicyErrors errors)
    {
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
