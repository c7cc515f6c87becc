using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;

namespace Trainyard.Api.S3;

/// <summary>
/// S3's flexible checksums — <c>x-amz-checksum-crc32</c>, <c>-crc32c</c>, <c>-crc64nvme</c>, <c>-sha1</c>,
/// <c>-sha256</c> — each the base64 of the big-endian digest of the object's bytes.
/// </summary>
public static class S3Checksums
{
    public static readonly IReadOnlyList<string> Algorithms = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

    /// <summary>The header (or trailer) that carries <paramref name="algorithm"/>'s value.</summary>
    public static string HeaderOf(string algorithm) => "x-amz-checksum-" + algorithm.ToLowerInvariant();

    /// <summary>The algorithm a header name carries (<c>x-amz-checksum-crc32</c> → <c>CRC32</c>); null for any other name.</summary>
    public static string? AlgorithmOf(string header)
    {
        if (!header.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var name = header["x-amz-checksum-".Length..].ToUpperInvariant();
        return Algorithms.Contains(name) ? name : null;
    }

    /// <summary>A running checksum of <paramref name="algorithm"/>.</summary>
    public static IChecksum Create(string algorithm) => algorithm switch
    {
        "CRC32" => new NonCryptographic(new Crc32()),
        "CRC32C" => new Crc32C(),
        "CRC64NVME" => new Crc64Nvme(),
        "SHA1" => new Cryptographic(IncrementalHash.CreateHash(HashAlgorithmName.SHA1)),
        "SHA256" => new Cryptographic(IncrementalHash.CreateHash(HashAlgorithmName.SHA256)),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown checksum algorithm."),
    };

    public interface IChecksum
    {
        void Append(ReadOnlySpan<byte> data);

        /// <summary>The digest as S3 sends it: base64 of the big-endian bytes.</summary>
        string Base64();
    }

    private sealed class NonCryptographic(NonCryptographicHashAlgorithm hash) : IChecksum
    {
        public void Append(ReadOnlySpan<byte> data) => hash.Append(data);

        // System.IO.Hashing writes CRC-32 little-endian; S3 sends it big-endian.
        public string Base64()
        {
            var bytes = hash.GetCurrentHash();
            bytes.AsSpan().Reverse();
            return Convert.ToBase64String(bytes);
        }
    }

    private sealed class Cryptographic(IncrementalHash hash) : IChecksum
    {
        public void Append(ReadOnlySpan<byte> data) => hash.AppendData(data);

        public string Base64() => Convert.ToBase64String(hash.GetCurrentHash());
    }

    /// <summary>CRC-32C (Castagnoli), with SSE4.2's CRC32 instruction where the CPU has it.</summary>
    internal sealed class Crc32C : IChecksum
    {
        private static readonly uint[] Table = MakeTable(0x82F63B78u);
        private uint _crc = 0xFFFFFFFFu;

        public void Append(ReadOnlySpan<byte> data)
        {
            var crc = _crc;
            if (Sse42.X64.IsSupported)
            {
                while (data.Length >= 8)
                {
                    crc = (uint)Sse42.X64.Crc32(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
                    data = data[8..];
                }
            }

            foreach (var b in data)
            {
                crc = Sse42.IsSupported ? Sse42.Crc32(crc, b) : Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            _crc = crc;
        }

        public string Base64()
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, ~_crc);
            return Convert.ToBase64String(bytes);
        }
    }

    /// <summary>CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5), table-driven.</summary>
    internal sealed class Crc64Nvme : IChecksum
    {
        private static readonly ulong[] Table = MakeTable(0x9A6C9329AC4BC9B5ul);
        private ulong _crc = ulong.MaxValue;

        public void Append(ReadOnlySpan<byte> data)
        {
            var crc = _crc;
            foreach (var b in data)
            {
                crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            _crc = crc;
        }

        public string Base64()
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(bytes, ~_crc);
            return Convert.ToBase64String(bytes);
        }
    }

    // The byte-at-a-time table of a reflected CRC with this polynomial.
    private static T[] MakeTable<T>(T polynomial)
        where T : System.Numerics.IBinaryInteger<T>, System.Numerics.IUnsignedNumber<T>
    {
        var table = new T[256];
        for (var i = 0; i < 256; i++)
        {
            var c = T.CreateTruncating(i);
            for (var k = 0; k < 8; k++)
            {
                c = (c & T.One) != T.Zero ? polynomial ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
