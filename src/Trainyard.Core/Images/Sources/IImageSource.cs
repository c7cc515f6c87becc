using Trainyard.Images.Oci;

namespace Trainyard.Images.Sources;

/// <summary>Where a pull reads an image from: a registry, an OCI layout, or an archive.</summary>
public interface IImageSource : IDisposable
{
    /// <summary>The manifest or index the location names, and its media type when the source says it.</summary>
    Task<(byte[] Body, string? MediaType)> GetRootAsync(CancellationToken cancellationToken);

    /// <summary>A manifest named by an index, by digest.</summary>
    Task<byte[]> GetManifestAsync(OciDescriptor descriptor, CancellationToken cancellationToken);

    /// <summary>A blob's bytes (a config or a layer), as stored; the caller verifies them.</summary>
    Task<Stream> OpenBlobAsync(OciDescriptor descriptor, CancellationToken cancellationToken);
}
