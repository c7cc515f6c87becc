using System.Security.Cryptography;

namespace Trainyard.Tests.Support;

/// <summary>The Python test image that .ci/setup-test-images.sh builds once per machine (./test.sh runs it).</summary>
public static class TestImages
{
    public static string PythonLayout()
    {
        var script = Path.Combine(TrainyardCli.RepositoryRoot, ".ci", "setup-test-images.sh");
        var key = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(script)))[..16];
        var cache = Environment.GetEnvironmentVariable("TRAINYARD_TEST_IMAGES") is { Length: > 0 } c ? c : "/var/cache/trainyard-test-images";
        var layout = Path.Combine(cache, key, "python");
        Assert.True(File.Exists(Path.Combine(layout, "index.json")), $"The Python test image is missing ({layout}): ./test.sh builds it with .ci/setup-test-images.sh.");
        return layout;
    }
}
