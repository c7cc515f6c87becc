using System.Diagnostics;

namespace Trainyard.Tests.DataPlane.FastFile;

/// <summary>
/// A Python reader (Debian's /usr/bin/python3, not whatever python3 is first on PATH) that walks a
/// mount, reads every file whole and at random offsets, and checks every byte, size and time against a
/// reference directory holding the same objects.
/// </summary>
internal static class PythonReader
{
    public const string Python = "/usr/bin/python3";

    public const string Verify = """
import mmap, os, random, sys
mount, reference, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)

def tree(root):
    files, dirs = {}, set()
    for d, ds, fs in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel != '.':
            dirs.add(rel)
        for f in fs:
            files[os.path.normpath(os.path.join(rel, f))] = os.path.join(d, f)
    return files, dirs

got, got_dirs = tree(mount)
want, want_dirs = tree(reference)
assert set(got) == set(want), ('files differ', sorted(set(got) ^ set(want))[:10])
assert got_dirs == want_dirs, ('directories differ', sorted(got_dirs ^ want_dirs)[:10])
checked = 0
for rel, path in sorted(got.items()):
    st, rst = os.stat(path), os.stat(want[rel])
    assert st.st_size == rst.st_size, (rel, st.st_size, rst.st_size)
    assert int(st.st_mtime) == int(rst.st_mtime), (rel, st.st_mtime, rst.st_mtime)
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    with open(path, 'rb') as f, open(want[rel], 'rb') as r:
        expected = r.read()
        assert f.read() == expected, ('whole read differs', rel)
        checked += len(expected)
    fd = os.open(path, os.O_RDONLY)
    try:
        if st.st_size > 0:
            with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as m:
                assert m[:] == expected, ('mmap differs', rel)
        for _ in range(20):
            off = rng.randrange(0, st.st_size + 2)
            n = rng.choice([1, 7, 4096, 65536, 1 << 20, 3 << 20])
            assert os.pread(fd, n, off) == expected[off:off + n], ('random read differs', rel, off, n)
    finally:
        os.close(fd)
print('OK', len(got), 'files', checked, 'bytes')
""";

    public static async Task<(int ExitCode, string Output)> RunAsync(string script, TimeSpan timeout, params string[] args)
    {
        var psi = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the Python reader did not finish within {timeout}: it hangs on the mount");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
