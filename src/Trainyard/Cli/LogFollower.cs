using System.Text;

namespace Trainyard.Cli;

/// <summary>Prints the log streams of a job and, when following, new lines as they are written.</summary>
internal static class LogFollower
{
    public static async Task<int> RunAsync(string directory, string job, bool follow, Func<CancellationToken, Task<bool>> ended, CancellationToken cancellationToken)
    {
        var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
        var pending = new Dictionary<string, string>(StringComparer.Ordinal);
        var seenAny = false;
        while (true)
        {
            var finished = follow && await ended(cancellationToken).ConfigureAwait(false);
            var files = Directory.Exists(directory) ? Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal).ToArray() : [];
            var multi = files.Length > 1;
            foreach (var file in files)
            {
                var stream = $"{job}/{Path.GetFileNameWithoutExtension(file)}";
                offsets.TryGetValue(file, out var offset);
                await using var fs = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                if (fs.Length <= offset)
                {
                    continue;
                }

                seenAny = true;
                fs.Seek(offset, SeekOrigin.Begin);
                var buffer = new byte[fs.Length - offset];
                var read = await fs.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                offsets[file] = offset + read;
                var text = (pending.GetValueOrDefault(file) ?? "") + Encoding.UTF8.GetString(buffer, 0, read);
                var lastNewline = text.LastIndexOf('\n');
                pending[file] = lastNewline < 0 ? text : text[(lastNewline + 1)..];
                if (lastNewline >= 0)
                {
                    foreach (var line in text[..lastNewline].Split('\n'))
                    {
                        Console.WriteLine(multi ? $"[{stream}] {line}" : line);
                    }
                }
            }

            if (!follow || finished)
            {
                if (!seenAny && !Directory.Exists(directory))
                {
                    await Console.Error.WriteLineAsync($"No logs for {job} under {directory}: check the name and --home.").ConfigureAwait(false);
                    return 1;
                }

                return 0;
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }
}
