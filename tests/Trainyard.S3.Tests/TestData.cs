using System.Security.Cryptography;

namespace Trainyard.S3.Tests;

/// <summary>Deterministic test payloads and temporary directories.</summary>
internal static class TestData
{
    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "trainyard-s3-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    public static string Sha256(byte[] bytes) => Convert.ToHexString(SHA256.HashData(bytes));
}
