namespace Trainyard.Tests.Support;

/// <summary>Two real registries for a test collection: one open, one behind htpasswd basic auth.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    public DockerRegistry Open { get; private set; } = null!;

    public DockerRegistry WithAuth { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Open = await DockerRegistry.StartAsync(auth: false);
        WithAuth = await DockerRegistry.StartAsync(auth: true);
    }

    public async Task DisposeAsync()
    {
        await Open.DisposeAsync();
        await WithAuth.DisposeAsync();
    }
}

[CollectionDefinition("registry")]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>;
