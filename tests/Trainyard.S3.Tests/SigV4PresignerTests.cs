using System.Globalization;
using System.Web;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Trainyard.S3.Tests;

public sealed class SigV4PresignerTests
{
    [Theory]
    [InlineData("http://127.0.0.1:4568", "plain/key.bin", null)]
    [InlineData("https://s3.example.test", "dir/a b+c=ü~(1).bin", null)]
    [InlineData("http://localhost:9000", "k", "SESSION/TOKEN+=")]
    public async Task PresignGet_SameInputs_SignsExactlyLikeTheSdk(string endpoint, string key, string? token)
    {
        AWSCredentials credentials = token is null
            ? new BasicAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            : new SessionAWSCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token);
        using var sdk = new AmazonS3Client(credentials, new AmazonS3Config { ServiceURL = endpoint, ForcePathStyle = true, AuthenticationRegion = "eu-west-1" });
        var sdkUrl = new Uri(await sdk.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = "my-bucket",
            Key = key,
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow.AddHours(1),
            Protocol = endpoint.StartsWith("https", StringComparison.Ordinal) ? Protocol.HTTPS : Protocol.HTTP,
        }));
        var sdkQuery = HttpUtility.ParseQueryString(sdkUrl.Query);
        var date = DateTime.ParseExact(sdkQuery["X-Amz-Date"]!, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
        var expires = TimeSpan.FromSeconds(int.Parse(sdkQuery["X-Amz-Expires"]!, CultureInfo.InvariantCulture));

        var ours = new SigV4Presigner(new Uri(endpoint), "eu-west-1", pathStyle: true)
            .PresignGet("my-bucket", key, await credentials.GetCredentialsAsync(), date, expires);

        Assert.Equal(sdkUrl.GetLeftPart(UriPartial.Path), ours.GetLeftPart(UriPartial.Path));
        Assert.Equal(sdkQuery["X-Amz-Signature"], HttpUtility.ParseQueryString(ours.Query)["X-Amz-Signature"]);
    }

    [Fact]
    public void PresignGet_ThreadsSigningForTwoDaysAtOnce_EachSignsWithItsOwnDaysKey()
    {
        // Around midnight UTC, downloads sign with yesterday's and today's key at the same time. The cached
        // key must never be read half-replaced (one day's date with the other day's key).
        var presigner = new SigV4Presigner(new Uri("http://127.0.0.1:4568"), "eu-west-1", pathStyle: true);
        var credentials = new ImmutableCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", null);
        DateTime[] days = [new(2025, 3, 1, 23, 59, 59, DateTimeKind.Utc), new(2025, 3, 2, 0, 0, 0, DateTimeKind.Utc)];
        var expected = days
            .Select(d => new SigV4Presigner(new Uri("http://127.0.0.1:4568"), "eu-west-1", pathStyle: true).PresignGet("b", "k", credentials, d, TimeSpan.FromHours(1)))
            .ToArray();

        var wrong = 0;
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (var i = 0; i < 100_000 && Volatile.Read(ref wrong) == 0; i++)
            {
                var day = (i + t) % 2;
                if (presigner.PresignGet("b", "k", credentials, days[day], TimeSpan.FromHours(1)) != expected[day])
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(0, wrong);
    }
}
