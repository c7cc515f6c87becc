using Trainyard.DataPlane;
using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.Tests.DataPlane;

public sealed class ChannelResolverTests
{
    [Theory]
    [InlineData("s3://b/train/", "train/a/x.csv", "a/x.csv")]
    [InlineData("s3://b/train", "train/a/x.csv", "a/x.csv")]
    [InlineData("s3://b/train/part", "train/part-1.csv", "part-1.csv")]
    [InlineData("s3://b/", "top.csv", "top.csv")]
    [InlineData("s3://b/train/x.csv", "train/x.csv", "x.csv")]
    public void RelativePath_StripsThePrefixAsSageMakerDoes(string prefix, string key, string expected) =>
        Assert.Equal(expected, ChannelResolver.RelativePath(S3Location.Parse(prefix), new S3Location("b", key)));

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/etc/passwd")]
    [InlineData("./a")]
    public void EnsureInside_RefusesPathsThatLeaveTheChannel(string relative) =>
        Assert.Throws<DataPlaneException>(() => ChannelResolver.EnsureInside(relative, new S3Location("b", relative)));

    [Fact]
    public void Share_ShardedByS3Key_IsDisjointAndComplete()
    {
        var all = Enumerable.Range(0, 10).Select(i => new ChannelObject(new ObjectInfo(new S3Location("b", $"k{i:D2}"), 1, DateTimeOffset.UnixEpoch), $"k{i:D2}")).ToList();
        var shares = Enumerable.Range(0, 3).Select(h => ChannelResolver.Share(all, "ShardedByS3Key", h, 3)).ToList();
        Assert.Equal(all, shares.SelectMany(s => s).OrderBy(o => o.RelativePath, StringComparer.Ordinal));
        Assert.Equal([4, 3, 3], shares.Select(s => s.Count));
        Assert.Same(all, ChannelResolver.Share(all, "FullyReplicated", 1, 3));
    }
}
