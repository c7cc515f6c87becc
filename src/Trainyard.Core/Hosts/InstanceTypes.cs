using System.Collections.Frozen;

namespace Trainyard.Hosts;

/// <summary>What an ml.* instance type provides: vCPUs, memory and accelerators.</summary>
public sealed record InstanceType(string Name, int Cpus, int MemoryGiB, int Gpus)
{
    private static readonly FrozenDictionary<string, InstanceType> Table = new InstanceType[]
    {
        new("ml.m4.xlarge", 4, 16, 0), new("ml.m4.2xlarge", 8, 32, 0), new("ml.m4.4xlarge", 16, 64, 0),
        new("ml.m4.10xlarge", 40, 160, 0), new("ml.m4.16xlarge", 64, 256, 0),
        new("ml.g4dn.xlarge", 4, 16, 1), new("ml.g4dn.2xlarge", 8, 32, 1), new("ml.g4dn.4xlarge", 16, 64, 1),
        new("ml.g4dn.8xlarge", 32, 128, 1), new("ml.g4dn.12xlarge", 48, 192, 4), new("ml.g4dn.16xlarge", 64, 256, 1),
        new("ml.m5.large", 2, 8, 0), new("ml.m5.xlarge", 4, 16, 0), new("ml.m5.2xlarge", 8, 32, 0),
        new("ml.m5.4xlarge", 16, 64, 0), new("ml.m5.12xlarge", 48, 192, 0), new("ml.m5.24xlarge", 96, 384, 0),
        new("ml.c4.xlarge", 4, 7, 0), new("ml.c4.2xlarge", 8, 15, 0), new("ml.c4.4xlarge", 16, 30, 0), new("ml.c4.8xlarge", 36, 60, 0),
        new("ml.p2.xlarge", 4, 61, 1), new("ml.p2.8xlarge", 32, 488, 8), new("ml.p2.16xlarge", 64, 732, 16),
        new("ml.p3.2xlarge", 8, 61, 1), new("ml.p3.8xlarge", 32, 244, 4), new("ml.p3.16xlarge", 64, 488, 8),
        new("ml.p3dn.24xlarge", 96, 768, 8), new("ml.p4d.24xlarge", 96, 1152, 8),
        new("ml.c5.xlarge", 4, 8, 0), new("ml.c5.2xlarge", 8, 16, 0), new("ml.c5.4xlarge", 16, 32, 0),
        new("ml.c5.9xlarge", 36, 72, 0), new("ml.c5.18xlarge", 72, 144, 0),
        new("ml.c5n.xlarge", 4, 10, 0), new("ml.c5n.2xlarge", 8, 21, 0), new("ml.c5n.4xlarge", 16, 42, 0),
        new("ml.c5n.9xlarge", 36, 96, 0), new("ml.c5n.18xlarge", 72, 192, 0),
        new("ml.g5.xlarge", 4, 16, 1), new("ml.g5.2xlarge", 8, 32, 1), new("ml.g5.4xlarge", 16, 64, 1),
        new("ml.g5.8xlarge", 32, 128, 1), new("ml.g5.16xlarge", 64, 256, 1), new("ml.g5.12xlarge", 48, 192, 4),
        new("ml.g5.24xlarge", 96, 384, 4), new("ml.g5.48xlarge", 192, 768, 8),
        new("ml.trn1.2xlarge", 8, 32, 0), new("ml.trn1.32xlarge", 128, 512, 0),
    }.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>The type's published figures, or a 2-vCPU guess for a type the table does not know.</summary>
    public static InstanceType Lookup(string? name) =>
        name is not null && Table.TryGetValue(name, out var type) ? type : new InstanceType(name ?? "ml.m5.large", 2, 8, 0);

    /// <summary>
    /// What a host really gets on this machine: the type's vCPUs capped at the machine's processors, and
    /// only the GPUs the machine has. The memory figure is the type's; no cgroup limit is applied.
    /// </summary>
    public (int Cpus, int Gpus) EffectiveOnThisMachine(int machineGpus = 0) =>
        (Math.Min(Cpus, Environment.ProcessorCount), Math.Min(Gpus, machineGpus));
}
