using System.Runtime.InteropServices;
using Trainyard.Images.Oci;

namespace Trainyard.Images.Cache;

/// <summary>This machine's platform, as OCI names it, and the choice of a manifest from an index.</summary>
public static class Platforms
{
    public static string Architecture => RuntimeInformation.OSArchitecture switch
    {
        System.Runtime.InteropServices.Architecture.X64 => "amd64",
        System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
        System.Runtime.InteropServices.Architecture.Arm => "arm",
        System.Runtime.InteropServices.Architecture.X86 => "386",
        System.Runtime.InteropServices.Architecture.Ppc64le => "ppc64le",
        System.Runtime.InteropServices.Architecture.S390x => "s390x",
        System.Runtime.InteropServices.Architecture.RiscV64 => "riscv64",
        var other => other.ToString().ToLowerInvariant(),
    };

    /// <summary>The manifest for linux on this architecture, or an error naming the platforms offered.</summary>
    public static OciDescriptor Select(IReadOnlyList<OciDescriptor> manifests)
    {
        var candidates = manifests.Where(m => m.Platform is { Os: "linux" } p && p.Architecture == Architecture).ToList();
        var chosen = candidates.FirstOrDefault(m => Architecture != "arm64" || m.Platform!.Variant is null or "v8") ?? candidates.FirstOrDefault();
        if (chosen is not null)
        {
            return chosen;
        }

        var offered = manifests.Where(m => m.Platform is not null && m.Platform.Os != "unknown").Select(m => m.Platform!.ToString()).Distinct().ToList();
        throw new ImagePullException($"it has no image for linux/{Architecture}; it offers {(offered.Count == 0 ? "no platform" : string.Join(", ", offered))}");
    }
}
