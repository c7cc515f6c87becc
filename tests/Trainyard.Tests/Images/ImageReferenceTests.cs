using Trainyard.Images;

namespace Trainyard.Tests.Images;

public sealed class ImageReferenceTests
{
    [Theory]
    [InlineData("busybox", "docker.io", "library/busybox", "latest", null)]
    [InlineData("pytorch/pytorch:2.1", "docker.io", "pytorch/pytorch", "2.1", null)]
    [InlineData("127.0.0.1:5000/algo:1", "127.0.0.1:5000", "algo", "1", null)]
    [InlineData("localhost/team/algo", "localhost", "team/algo", "latest", null)]
    [InlineData("123456789012.dkr.ecr.us-east-1.amazonaws.com/xgb:1.7-1", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "xgb", "1.7-1", null)]
    [InlineData("reg.example.com/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "reg.example.com", "a/b", null, "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    public void TryParse_ValidReferences_AreNormalised(string text, string domain, string repository, string? tag, string? digest)
    {
        Assert.True(ImageReference.TryParse(text, out var reference, out var problem), problem);
        Assert.Equal(domain, reference!.Domain);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Equal(digest, reference.Digest);
    }

    [Theory]
    [InlineData("Upper/Case", "repository")]
    [InlineData("algo:bad tag", "spaces")]
    [InlineData("algo@sha256:short", "digest")]
    [InlineData("reg.example.com/a:-x", "tag")]
    public void TryParse_InvalidReferences_SayWhy(string text, string why)
    {
        Assert.False(ImageReference.TryParse(text, out _, out var problem));
        Assert.Contains(why, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void RegistryHost_DockerHub_IsTheApiHost() =>
        Assert.Equal("registry-1.docker.io", ImageReference.Parse("busybox").RegistryHost);

    [Theory]
    [InlineData("oci:/layouts/algo:2", "oci:/layouts/algo:2")]
    [InlineData("oci-archive:/tmp/a.tar", "oci-archive:/tmp/a.tar")]
    [InlineData("docker-archive:/tmp/a.tar:algo:1", "docker-archive:/tmp/a.tar:algo:1")]
    [InlineData("docker://busybox", "docker://docker.io/library/busybox:latest")]
    [InlineData("127.0.0.1:5000/algo", "docker://127.0.0.1:5000/algo:latest")]
    public void ImageLocation_RoundTripsThroughItsStoredForm(string text, string stored)
    {
        var location = ImageLocation.Parse(text);
        Assert.Equal(stored, location.ToString());
        Assert.Equal(location, ImageLocation.Parse(location.ToString()));
    }

    [Fact]
    public void ImageLocation_RelativeLayoutPath_IsRefused()
    {
        Assert.False(ImageLocation.TryParse("oci:layouts/algo", out _, out var problem));
        Assert.Contains("absolute", problem, StringComparison.Ordinal);
    }
}
