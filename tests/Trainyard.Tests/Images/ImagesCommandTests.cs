using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.OciLayoutBuilder;

namespace Trainyard.Tests.Images;

/// <summary><c>trainyard images</c> as a person runs it, against a real registry.</summary>
[Collection("registry")]
public sealed class ImagesCommandTests(RegistryFixture registries)
{
    [Fact]
    public async Task PullListRmPrune_ManageTheCache()
    {
        using var home = new TempDirectory("home");
        var layout = new OciLayoutBuilder(home["layout"]);
        var shared = layout.AddLayer(w => Busybox(w));
        layout.Tag(layout.AddImage([shared, layout.AddLayer(w => Text(w, "v", "1"))]), "1");
        layout.Tag(layout.AddImage([shared, layout.AddLayer(w => Text(w, "v", "2"))]), "2");
        var one = await registries.Open.PushAsync(layout.Directory, "1", "cli/algo");
        var two = await registries.Open.PushAsync(layout.Directory, "2", "cli/algo");

        var (code, stdout, stderr) = await TrainyardCli.RunAsync(home.Path, "images", "pull", one, "--home", home.Path);
        Assert.True(code == 0, stderr);
        Assert.Contains("Pulling [", stdout, StringComparison.Ordinal);
        Assert.Contains("2/2 layers", stdout, StringComparison.Ordinal);
        (code, _, stderr) = await TrainyardCli.RunAsync(home.Path, "images", "pull", two, "--home", home.Path);
        Assert.True(code == 0, stderr);
        (code, stdout, _) = await TrainyardCli.RunAsync(home.Path, "images", "list", "--home", home.Path);
        Assert.Equal(0, code);
        Assert.Contains(one, stdout, StringComparison.Ordinal);
        Assert.Contains(two, stdout, StringComparison.Ordinal);
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(home.Path, "images", "layers")).Length);

        (code, stdout, stderr) = await TrainyardCli.RunAsync(home.Path, "images", "rm", one, "--home", home.Path);
        Assert.True(code == 0, stderr);
        Assert.Contains("Removed 1 layers", stdout, StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(home.Path, "images", "layers")).Length);

        (code, _, stderr) = await TrainyardCli.RunAsync(home.Path, "images", "rm", one, "--home", home.Path);
        Assert.NotEqual(0, code);
        Assert.Contains("not in the cache", stderr, StringComparison.Ordinal);

        Directory.CreateDirectory(Path.Combine(home.Path, "images", "tmp", "layer-interrupted"));
        (code, stdout, _) = await TrainyardCli.RunAsync(home.Path, "images", "prune", "--home", home.Path);
        Assert.Equal(0, code);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(home.Path, "images", "tmp")));
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(home.Path, "images", "layers")).Length);
    }

    [Fact]
    public async Task Pull_MissingImage_FailsNamingIt()
    {
        using var home = new TempDirectory("home");
        var (code, _, stderr) = await TrainyardCli.RunAsync(home.Path, "images", "pull", registries.Open.Address + "/no/such:1", "--home", home.Path);
        Assert.NotEqual(0, code);
        Assert.Contains(registries.Open.Address + "/no/such:1", stderr, StringComparison.Ordinal);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);
    }
}
