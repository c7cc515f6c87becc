namespace Trainyard.S3.Tests;

/// <summary>Shares one s3rver among every test class that talks to S3.</summary>
[CollectionDefinition(Name)]
public sealed class S3rverCollection : ICollectionFixture<S3rverFixture>
{
    public const string Name = "s3rver";
}
