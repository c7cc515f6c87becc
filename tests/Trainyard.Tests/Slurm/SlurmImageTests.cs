using Trainyard.Tests.Support;
using static Trainyard.Tests.Support.OciLayoutBuilder;

namespace Trainyard.Tests.Slurm;

/// <summary>Image jobs whose hosts run on Slurm nodes: the image is pulled once into the shared cache.</summary>
[Collection("registry")]
public sealed class SlurmImageTests(RegistryFixture registries)
{
    [Fact]
    public async Task ImageJob_ThreeSlurmNodes_PullTheImageOnceIntoTheSharedCache()
    {
        SlurmCluster.Require();
        using var dir = new TempDirectory("slurm-image");
        var layout = new OciLayoutBuilder(dir["layout"]);
        layout.Tag(layout.AddImage([layout.AddLayer(w => Busybox(w, "#!/bin/sh\necho \"$SM_CURRENT_HOST on $TRAINYARD_NODE as $(id -u)\" > /opt/ml/model/$SM_CURRENT_HOST\n"))]), "1");
        var image = await registries.Open.PushAsync(layout.Directory, "1", "slurm/busybox");
        await using var server = await SlurmCluster.StartServerAsync();
        var name = TestJobs.UniqueName("slurm-image");

        await server.CreateAsync(TestJobs.Request(name, image, instances: 3));
        var job = await server.WaitForEndAsync(name, TimeSpan.FromSeconds(120));

        Assert.True(job["TrainingJobStatus"]!.GetValue<string>() == "Completed", job.ToJsonString() + server.LogOf(name)
            + string.Concat(Directory.GetFiles(server.Options.JobDirectory(name), "slurm-*.out", SearchOption.AllDirectories).Select(File.ReadAllText)));
        var model = TarGz.Entries(Path.Combine(server.Objects, "out", "models", name, "output", "model.tar.gz"));
        Assert.Equal(["algo-1", "algo-2", "algo-3"], model.Keys.Order(StringComparer.Ordinal));
        Assert.All(model.Values, v => Assert.EndsWith(" as 0\n", v, StringComparison.Ordinal));
        var log = server.LogOf(name);
        Assert.Single(log.Split('\n'), l => l.Contains("Pulled " + image, StringComparison.Ordinal));
        Assert.Single(Directory.GetDirectories(Path.Combine(server.Home, "images", "layers")));
    }
}
