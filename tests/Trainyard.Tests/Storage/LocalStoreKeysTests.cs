using CsCheck;
using Trainyard.Storage;
using Trainyard.Tests.Support;

namespace Trainyard.Tests.Storage;

/// <summary>The local store's keys: what escapes is refused everywhere, and listings page exactly as S3's do.</summary>
public sealed class LocalStoreKeysTests
{
    [Theory]
    [InlineData("a", "../ab/x")]
    [InlineData("a", "x/../../ab/x")]
    [InlineData("a", "/etc/passwd")]
    [InlineData("a", "x//y")]
    [InlineData("a", "x/./y")]
    [InlineData("a", "dir/")]
    [InlineData("a", ".trainyard-tmp/x")]
    [InlineData("..", "x")]
    [InlineData(".trainyard-tmp", "x")]
    [InlineData("a/b", "x")]
    public async Task EscapingLocations_AreRefusedByEveryOperation(string bucket, string key)
    {
        using var dir = new TempDirectory();
        var store = new LocalObjectStore(Path.Combine(dir.Path, "objects"));
        Directory.CreateDirectory(Path.Combine(store.Root, "ab"));
        var location = new S3Location(bucket, key);
        Assert.Throws<ObjectStoreException>(() => store.PathOf(location));
        await Assert.ThrowsAsync<ObjectStoreException>(() => store.HeadAsync(location, default));
        await Assert.ThrowsAsync<ObjectStoreException>(() => store.OpenReadAsync(location, 0, null, default));
        await Assert.ThrowsAsync<ObjectStoreException>(() => store.UploadAsync(location, (s, ct) => s.WriteAsync(new byte[] { 1 }, ct).AsTask(), default));
        await Assert.ThrowsAsync<ObjectStoreException>(() => store.DeleteAsync(location, default));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(store.Root, "ab")));
    }

    [Fact]
    public async Task SymlinkOutOfTheBucket_IsRefused_OneInsideIsFollowed()
    {
        using var dir = new TempDirectory();
        var store = new LocalObjectStore(Path.Combine(dir.Path, "objects"));
        var bucket = Directory.CreateDirectory(Path.Combine(store.Root, "b")).FullName;
        Directory.CreateDirectory(Path.Combine(store.Root, "other"));
        await File.WriteAllTextAsync(Path.Combine(store.Root, "other", "x"), "other");
        Directory.CreateDirectory(Path.Combine(bucket, "real"));
        await File.WriteAllTextAsync(Path.Combine(bucket, "real", "x"), "mine");
        File.CreateSymbolicLink(Path.Combine(bucket, "out"), Path.Combine(store.Root, "other"));
        File.CreateSymbolicLink(Path.Combine(bucket, "in"), Path.Combine(bucket, "real"));

        Assert.Throws<ObjectStoreException>(() => store.PathOf(new S3Location("b", "out/x")));
        Assert.Throws<ObjectStoreException>(() => store.PathOf(new S3Location("b", "out/new/deeper")));
        await using var read = await store.OpenReadAsync(new S3Location("b", "in/x"), 0, null, default);
        Assert.Equal("mine", await new StreamReader(read).ReadToEndAsync());
    }

    /// <summary>
    /// Random key sets listed with random prefixes, delimiters and page sizes, page after page (continuing from the
    /// last entry as the S3 facade's tokens do), give exactly what S3's definition gives over the sorted keys.
    /// </summary>
    [Fact]
    public void Listing_PageByPage_MatchesS3sDefinition()
    {
        static Gen<string> OneOf(params string[] values) => Gen.Int[0, values.Length - 1].Select(i => values[i]);
        var segment = OneOf("a", "b", "a0", "a.b", "z", "Ä");
        var key = Gen.Int[1, 4].SelectMany(n => segment.Array[n]).Select(parts => string.Join('/', parts));
        var gen = Gen.Select(key.HashSet[1, 25], OneOf("", "a", "a/", "b/a", "a0"), OneOf("", "/", "0", "."), Gen.Int[1, 5]);
        gen.Sample((keys, prefix, delimiter, pageSize) =>
        {
            // A directory store cannot hold x and x/y: keep the keys that are not prefixes of others.
            var stored = keys.Where(k => !keys.Any(o => o.StartsWith(k + "/", StringComparison.Ordinal))).OrderBy(k => k, StringComparer.Ordinal).ToList();
            using var dir = new TempDirectory();
            foreach (var k in stored)
            {
                var path = Path.Combine(dir.Path, k);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, k);
            }

            var expected = new List<string>();
            foreach (var k in stored.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))
            {
                var at = delimiter.Length == 0 ? -1 : k.IndexOf(delimiter, prefix.Length, StringComparison.Ordinal);
                var entry = at < 0 ? k : k[..(at + delimiter.Length)] + "\u0001";
                if (expected.Count == 0 || expected[^1] != entry)
                {
                    expected.Add(entry);
                }
            }

            var actual = new List<string>();
            var after = "";
            for (var pages = 0; pages < 100; pages++)
            {
                var page = LocalListing.List(dir.Path, prefix, delimiter, after, pageSize, default);
                actual.AddRange(page.Entries.Select(e => e.IsPrefix ? e.Key + "\u0001" : e.Key));
                Assert.True(page.Entries.Count <= pageSize);
                if (!page.IsTruncated)
                {
                    break;
                }

                after = page.Entries[^1].Key;
            }

            Assert.Equal(expected, actual);
        }, iter: 150);
    }
}
