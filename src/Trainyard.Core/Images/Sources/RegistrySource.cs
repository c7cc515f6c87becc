using Trainyard.Images.Oci;
using Trainyard.Images.Registry;

namespace Trainyard.Images.Sources;

/// <summary>An image in a registry.</summary>
public sealed class RegistrySource(RegistryClient client, ImageReference reference) : IImageSource
{
    public Task<(byte[] Body, string? MediaType)> GetRootAsync(CancellationToken cancellationToken) =>
        client.GetManifestAsync(reference, reference.ManifestReference, cancellationToken);

    public async Task<byte[]> GetManifestAsync(OciDescriptor descriptor, CancellationToken cancellationToken) =>
        (await client.GetManifestAsync(reference, descriptor.Digest, cancellationToken).ConfigureAwait(false)).Body;

    public Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken) =>
        client.OpenBlobAsync(reference, descriptor.Digest, cancellationToken);

    public void Dispose()
    {
    }
}
