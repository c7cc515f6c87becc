using Trainyard.Hosts;
using Trainyard.Storage;

namespace Trainyard.DataPlane.FastFile;

/// <summary>
/// The immutable directory tree a FastFile mount shows: built once from the channel's objects, so every
/// lookup, getattr and readdir is answered from memory. A node's FUSE node id is its index + 1 (the
/// root is node 1), and since nodes are never freed, FORGET needs no bookkeeping.
/// </summary>
internal sealed class FileTree
{
    private readonly List<Node> _nodes = [];

    private FileTree()
    {
        _nodes.Add(new Node("", 0, null));
    }

    public int Count => _nodes.Count;

    public int FileCount { get; private set; }

    public long TotalBytes { get; private set; }

    /// <summary>Paths that could not be shown (a key that is both a file and a directory prefix).</summary>
    public List<string> Skipped { get; } = [];

    public Node this[int index] => _nodes[index];

    public bool TryGet(ulong nodeId, out Node node)
    {
        if (nodeId == 0 || nodeId > (ulong)_nodes.Count)
        {
            node = null!;
            return false;
        }

        node = _nodes[(int)(nodeId - 1)];
        return true;
    }

    public static FileTree Build(IReadOnlyList<ChannelObject> objects)
    {
        var tree = new FileTree();
        foreach (var o in objects)
        {
            ChannelResolver.EnsureInside(o.RelativePath, o.Info.Location);
            var segments = o.RelativePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
            var dir = 0;
            var ok = true;
            for (var i = 0; i < segments.Length - 1 && ok; i++)
            {
                var parent = tree._nodes[dir];
                if (parent.Children!.TryGetValue(segments[i], out var child))
                {
                    ok = tree._nodes[child].IsDirectory;
                    dir = child;
                }
                else
                {
                    dir = tree.Add(new Node(segments[i], dir, null));
                }
            }

            if (!ok || segments.Length == 0 || tree._nodes[dir].Children!.ContainsKey(segments[^1]))
            {
                tree.Skipped.Add(o.RelativePath);
                continue;
            }

            var file = tree.Add(new Node(segments[^1], dir, o.Info));
            tree.FileCount++;
            tree.TotalBytes += o.Info.Size;
            for (var p = tree._nodes[file].Parent; ; p = tree._nodes[p].Parent)
            {
                var d = tree._nodes[p];
                if (o.Info.LastModified > d.LastModified)
                {
                    d.LastModified = o.Info.LastModified;
                }

                if (p == 0)
                {
                    break;
                }
            }
        }

        return tree;
    }

    private int Add(Node node)
    {
        var index = _nodes.Count;
        _nodes.Add(node);
        var parent = _nodes[node.Parent];
        parent.Children!.Add(node.Name, index);
        parent.Order!.Add(index);
        return index;
    }

    /// <summary>A file (with its object) or a directory (with its children in key order).</summary>
    internal sealed class Node(string name, int parent, ObjectInfo? info)
    {
        public string Name { get; } = name;
        public int Parent { get; } = parent;
        public ObjectInfo? Object { get; } = info;
        public bool IsDirectory => Object is null;
        public long Size => Object?.Size ?? 0;
        public DateTimeOffset LastModified { get; set; } = info?.LastModified ?? DateTimeOffset.UnixEpoch;
        public Dictionary<string, int>? Children { get; } = info is null ? new(StringComparer.Ordinal) : null;
        public List<int>? Order { get; } = info is null ? [] : null;
    }
}
