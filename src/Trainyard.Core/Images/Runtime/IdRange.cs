using System.Globalization;

namespace Trainyard.Images.Runtime;

/// <summary>
/// The host ids an image host runs as: ids 0..65535 inside its user namespace are
/// <c>base + slot × 65536 …</c> outside, like a line of /etc/subuid. The slot comes from the job (its
/// sequence number), so it is the same on every host of the job and for the job's whole life. The
/// default base, 0x70000000, lies just above systemd's container range and leaves 4094 slots below
/// systemd's foreign range (0x7FFE0000).
/// </summary>
public readonly record struct IdRange(long Start)
{
    public const long DefaultBase = 0x7000_0000;
    public const int Size = 65536;
    public const int Slots = 4094;

    public static IdRange ForJob(long userNamespaceBase, long jobSequence) =>
        new(userNamespaceBase + (jobSequence % Slots) * Size);

    /// <summary>Why <paramref name="userNamespaceBase"/> cannot be used, or null.</summary>
    public static string? Problem(long userNamespaceBase) =>
        userNamespaceBase < Size
            ? "--userns-base must be at least 65536: the ids of the machine's own users must never be mapped into a job"
            : userNamespaceBase + (long)Slots * Size > uint.MaxValue
                ? string.Create(CultureInfo.InvariantCulture, $"--userns-base leaves no room for {Slots} ranges of 65536 ids below 2^32")
                : null;

    /// <summary>The host id of id <paramref name="inside"/> of the namespace.</summary>
    public long Outside(long inside) => Start + inside;

    /// <summary>The uid_map / gid_map line.</summary>
    public string MapLine => string.Create(CultureInfo.InvariantCulture, $"0 {Start} {Size}\n");
}
