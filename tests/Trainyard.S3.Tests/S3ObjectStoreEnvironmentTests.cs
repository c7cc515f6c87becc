namespace Trainyard.S3.Tests;

public sealed class S3ObjectStoreEnvironmentTests
{
    [Fact]
    public void OptionsFromEnvironment_ServiceSpecificEndpoint_WinsAndForcesPathStyle()
    {
        var env = new Dictionary<string, string>
        {
            ["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9000",
            ["AWS_ENDPOINT_URL"] = "http://other:1",
            ["AWS_DEFAULT_REGION"] = "eu-west-1",
        };

        var options = S3ObjectStore.OptionsFromEnvironment(k => env.GetValueOrDefault(k));

        Assert.Equal(new Uri("http://127.0.0.1:9000"), options.ServiceUrl);
        Assert.True(options.ForcePathStyle);
        Assert.Equal("eu-west-1", options.Region);
    }

    [Fact]
    public void OptionsFromEnvironment_Nothing_DefaultsToAwsInUsEast1()
    {
        var options = S3ObjectStore.OptionsFromEnvironment(_ => null);

        Assert.Null(options.ServiceUrl);
        Assert.False(options.ForcePathStyle);
        Assert.Equal("us-east-1", options.Region);
    }

    [Fact]
    public void OptionsFromEnvironment_RegionPrefersAwsRegion()
    {
        var env = new Dictionary<string, string> { ["AWS_REGION"] = "ap-south-1", ["AWS_DEFAULT_REGION"] = "eu-west-1", ["AWS_ENDPOINT_URL"] = "https://s3.example.test" };

        var options = S3ObjectStore.OptionsFromEnvironment(k => env.GetValueOrDefault(k));

        Assert.Equal("ap-south-1", options.Region);
        Assert.Equal(new Uri("https://s3.example.test"), options.ServiceUrl);
    }
}
