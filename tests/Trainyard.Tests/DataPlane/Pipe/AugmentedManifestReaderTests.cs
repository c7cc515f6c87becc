using System.Text;
using Trainyard.DataPlane.Pipe;
using Trainyard.Storage;

namespace Trainyard.Tests.DataPlane.Pipe;

public class AugmentedManifestReaderTests
{
    [Fact]
    public async Task ReadAsync_ValidLines_AttributesInRequestedOrder()
    {
        var manifest = """
            {"source-ref": "s3://b/img1.jpg", "class": "3", "box": {"x": 1}}

            {"class": 4, "source-ref": "s3://b/img2.jpg", "box": [1,2]}
            """;
        var lines = await ReadAsync(manifest, ["class", "source-ref", "box"]);

        Assert.Equal(2, lines.Count);
        Assert.Equal(1, lines[0].LineNumber);
        Assert.Equal(3, lines[1].LineNumber);
        Assert.Equal("3", Encoding.UTF8.GetString(lines[0].Attributes[0].Value.Span));
        Assert.Equal(new S3Location("b", "img1.jpg"), lines[0].Attributes[1].Reference);
        Assert.Equal("""{"x": 1}""", Encoding.UTF8.GetString(lines[0].Attributes[2].Value.Span));
        Assert.Equal("4", Encoding.UTF8.GetString(lines[1].Attributes[0].Value.Span));
        Assert.Equal("[1,2]", Encoding.UTF8.GetString(lines[1].Attributes[2].Value.Span));
    }

    [Fact]
    public async Task ReadAsync_InvalidJson_NamesManifestAndLine()
    {
        var e = await Assert.ThrowsAsync<PipeChannelException>(() => ReadAsync("{\"a\": \"1\"}\n{\"a\": \n", ["a"]));
        Assert.Contains("s3://b/m.manifest line 2", e.Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_MissingAttribute_NamesAttributeAndLine()
    {
        var e = await Assert.ThrowsAsync<PipeChannelException>(() => ReadAsync("{\"a\": 1}\n{\"a\": 2}\n{\"b\": 3}\n", ["a"]));
        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("'a'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_RefNotUri_Throws()
    {
        var e = await Assert.ThrowsAsync<PipeChannelException>(() => ReadAsync("{\"source-ref\": 5}\n", ["source-ref"]));
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAsync_NotAnObject_Throws()
    {
        var e = await Assert.ThrowsAsync<PipeChannelException>(() => ReadAsync("[1, 2]\n", ["a"]));
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
    }

    private static async Task<List<AugmentedManifestLine>> ReadAsync(string manifest, string[] attributes)
    {
        var lines = new List<AugmentedManifestLine>();
        await foreach (var line in AugmentedManifestReader.ReadAsync(new MemoryStream(Encoding.UTF8.GetBytes(manifest)), "s3://b/m.manifest", attributes, CancellationToken.None))
        {
            lines.Add(line);
        }

        return lines;
    }
}
