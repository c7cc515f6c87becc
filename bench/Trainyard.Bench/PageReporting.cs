using System.Globalization;

namespace Trainyard.Bench;

/// <summary>
/// The guest kernel's free page reporting (virtio-balloon): memory freed in blocks of 2^order pages is
/// handed back to the host a moment later, and whoever touches it next pays a host page fault per page.
/// Measured on this VM: writing 1 GiB into the page cache takes 0.27–0.34 s right after 1 GiB was freed and
/// 1.44–1.56 s when the freed memory sat for 10 s. A download writes a fresh GiB every run, so whether its
/// pages were reported decides more of its time than the client does. With --no-page-reporting the
/// benches raise the reporting order above the largest block (nothing is reported) and restore it after.
/// </summary>
internal static class PageReporting
{
    private const string OrderPath = "/sys/module/page_reporting/parameters/page_reporting_order";
    private const int Off = 11;

    /// <summary>A line for the bench's header: is reporting on here, and at what order.</summary>
    public static string Describe()
    {
        if (!File.Exists(OrderPath))
        {
            return "free page reporting: not in this kernel";
        }

        var order = File.ReadAllText(OrderPath).Trim();
        return int.TryParse(order, NumberStyles.Integer, CultureInfo.InvariantCulture, out var o) && o >= Off
            ? $"free page reporting: off (order {order})"
            : $"free page reporting: ON (order {order}): freed memory goes back to the host and costs a page fault per page on reuse; --no-page-reporting turns it off for the run";
    }

    /// <summary>Turns reporting off until disposed (needs root); a no-op where the kernel has none.</summary>
    public static IDisposable Hold(bool enabled)
    {
        if (!enabled || !File.Exists(OrderPath))
        {
            return new Restore(null);
        }

        var before = File.ReadAllText(OrderPath).Trim();
        File.WriteAllText(OrderPath, Off.ToString(CultureInfo.InvariantCulture));
        WarmFreeMemory(3L << 30);
        return new Restore(before);
    }

    /// <summary>
    /// Fills and deletes a scratch file of <paramref name="bytes"/> in the page cache (in a child process, so
    /// this one's peak memory stays its own): what was reported before reporting went off is still cold, and
    /// the runs would otherwise draw on it. Freed now, it stays warm for them. Deleted before writeback, the
    /// dirty pages never reach the disk.
    /// </summary>
    private static void WarmFreeMemory(long bytes)
    {
        var scratch = Path.Combine(Path.GetTempPath(), $"trainyard-bench-warm-{Environment.ProcessId}");
        using var dd = System.Diagnostics.Process.Start("dd", $"if=/dev/zero of={scratch} bs=1M count={bytes >> 20} status=none")!;
        dd.WaitForExit();
        File.Delete(scratch);
    }

    private sealed class Restore(string? before) : IDisposable
    {
        public void Dispose()
        {
            if (before is not null)
            {
                File.WriteAllText(OrderPath, before);
            }
        }
    }
}
