using Trainyard.Storage;

namespace Trainyard.S3.Tests;

[Collection(S3rverCollection.Name)]
public sealed class S3ObjectStoreFromEnvironmentTests(S3rverFixture s3)
{
    // This process-wide environment is only read by tests of this collection, which run one at a time.
    [Fact]
    public async Task FromEnvironment_PlainHttpEndpointWithCaBundleSet_Works()
    {
        var bucket = await s3.NewBucketAsync();
        var saved = new Dictionary<string, string?>();
        var env = new Dictionary<string, string>
        {
            ["AWS_ENDPOINT_URL_S3"] = s3.Endpoint.ToString(),
            ["AWS_ACCESS_KEY_ID"] = S3rverFixture.AccessKey,
            ["AWS_SECRET_ACCESS_KEY"] = S3rverFixture.SecretKey,
            ["AWS_CA_BUNDLE"] = File.Exists("/etc/ssl/certs/ca-certificates.crt") ? "/etc/ssl/certs/ca-certificates.crt" : "",
        };
        foreach (var (key, value) in env)
        {
            saved[key] = Environment.GetEnvironmentVariable(key);
            Environment.SetEnvironmentVariable(key, value);
        }

        try
        {
            using var store = S3ObjectStore.FromEnvironment();
            Assert.True(store.Options.ForcePathStyle);
            var location = new S3Location(bucket, "env.txt");
            await store.UploadAsync(location, (s, ct) => s.WriteAsync("via env"u8.ToArray(), ct).AsTask(), default);
            var listed = Assert.Single(await store.ListAsync(new S3Location(bucket, ""), default).ToListAsync());
            var path = Path.Combine(TestData.TempDir(), "env.txt");
            await store.DownloadAsync(listed, path, null, default);
            Assert.Equal("via env", await File.ReadAllTextAsync(path));
        }
        finally
        {
            foreach (var (key, value) in saved)
            {
                Environment.SetEnvironmentVariable(key, value);
            }
        }
    }
}
