using Trainyard.Images;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Images;

public sealed class ImageResolutionOrderTests
{
    [Fact]
    public void Resolve_AbsolutePath_IsALocalAlgorithm()
    {
        using var dir = new TempDirectory("algo");
        dir.Write("train", "#!/bin/sh\n", executable: true);
        var image = new ImageResolutionOrder(new Dictionary<string, string>()).Resolve(dir.Path, out var problem);
        Assert.Equal(new ResolvedImage.Executable(dir.Path), image);
        Assert.Null(problem);
    }

    [Fact]
    public void Resolve_MappedNameWithoutTag_MapsEveryTagToAnotherImage()
    {
        var map = new Dictionary<string, string> { ["123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo"] = "registry.lan:5000/ml/my-algo:1" };
        var image = new ImageResolutionOrder(map).Resolve("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-algo:7", out _);
        var container = Assert.IsType<ResolvedImage.Container>(image);
        Assert.Equal("docker://registry.lan:5000/ml/my-algo:1", container.Stored);
    }

    [Fact]
    public void Resolve_MappedToAMissingPath_SaysWhichMapping()
    {
        var map = new Dictionary<string, string> { ["algo:1"] = "/nonexistent/algo" };
        Assert.Null(new ImageResolutionOrder(map).Resolve("algo:1", out var problem));
        Assert.Contains("mapped to '/nonexistent/algo'", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_TransportBeforeRegistry_ReadsTheLayout()
    {
        var image = new ImageResolutionOrder(new Dictionary<string, string>()).Resolve("oci:/srv/layouts/algo:3", out _);
        Assert.Equal(new ResolvedImage.Container(new ImageLocation.OciLayout("/srv/layouts/algo", "3")), image);
    }

    [Fact]
    public void Resolve_Nonsense_NamesTheFieldAndHowToMap()
    {
        Assert.Null(new ImageResolutionOrder(new Dictionary<string, string>()).Resolve("Not An Image", out var problem));
        Assert.Contains("TrainingImage 'Not An Image'", problem, StringComparison.Ordinal);
        Assert.Contains("--image", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Steps_AreInTheDocumentedOrder() =>
        Assert.Equal(["absolute path", "image map", "script mode", "transports", "registry"], new ImageResolutionOrder(new Dictionary<string, string>()).Steps.Select(s => s.Name));
}
