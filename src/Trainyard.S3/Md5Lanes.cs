using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Trainyard.S3;

/// <summary>
/// MD5 of sixteen independent messages at once, one per 32-bit lane of an AVX-512 register (the
/// "multi-buffer" technique of Intel's ISA-L). MD5 is a serial chain within one message, so a single
/// stream cannot go faster than one core's ~580 MB/s here; sixteen streams side by side share every
/// instruction. S3 ETags of single-part objects are MD5s, and checking them for many objects at once is
/// what File mode does.
/// </summary>
internal static unsafe class Md5Lanes
{
    /// <summary>Messages hashed side by side.</summary>
    public const int Lanes = 16;

    /// <summary>MD5's block size.</summary>
    public const int BlockSize = 64;

    /// <summary>Whether this CPU runs the sixteen-lane kernel (AVX-512F).</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    private static readonly byte* ZeroBlock = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(BlockSize, 64);

    /// <summary>The initial chaining value of every lane.</summary>
    public static void Initialize(Span<uint> state, int lane)
    {
        state[lane] = 0x67452301;
        state[Lanes + lane] = 0xEFCDAB89;
        state[(2 * Lanes) + lane] = 0x98BADCFE;
        state[(3 * Lanes) + lane] = 0x10325476;
    }

    /// <summary>
    /// Runs <paramref name="blocks"/> 64-byte blocks through every lane whose bit is set in
    /// <paramref name="active"/>, reading lane <c>i</c>'s blocks from <c>data[i]</c> onwards. The state is
    /// laid out as a[16], b[16], c[16], d[16]; inactive lanes keep theirs and their pointers are not read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // never the unoptimised first tier: it runs for seconds per call
    public static void Compress(Span<uint> state, ReadOnlySpan<IntPtr> data, int blocks, int active)
    {
        if (!Avx512F.IsSupported)
        {
            throw new PlatformNotSupportedException("The sixteen-lane MD5 kernel needs AVX-512F.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(state.Length, 4 * Lanes);
        ArgumentOutOfRangeException.ThrowIfLessThan(data.Length, Lanes);
        var p = stackalloc byte*[Lanes];
        var maskBits = stackalloc uint[Lanes];
        for (var i = 0; i < Lanes; i++)
        {
            var on = (active & (1 << i)) != 0;
            p[i] = on ? (byte*)data[i] : ZeroBlock;
            maskBits[i] = on ? uint.MaxValue : 0;
        }

        fixed (uint* s = state)
        {
            var mask = Vector512.Load(maskBits);
            var a0 = Vector512.Load(s);
            var b0 = Vector512.Load(s + Lanes);
            var c0 = Vector512.Load(s + (2 * Lanes));
            var d0 = Vector512.Load(s + (3 * Lanes));
            var a = a0;
            var b = b0;
            var c = c0;
            var d = d0;
            for (var n = 0; n < blocks; n++)
            {
                Block(p, ref a, ref b, ref c, ref d);
                for (var i = 0; i < Lanes; i++)
                {
                    if (p[i] != ZeroBlock)
                    {
                        p[i] += BlockSize;
                    }
                }
            }

            Vector512.ConditionalSelect(mask, a, a0).Store(s);
            Vector512.ConditionalSelect(mask, b, b0).Store(s + Lanes);
            Vector512.ConditionalSelect(mask, c, c0).Store(s + (2 * Lanes));
            Vector512.ConditionalSelect(mask, d, d0).Store(s + (3 * Lanes));
        }
    }

    /// <summary>
    /// Ends one lane's message: the last <paramref name="tail"/> bytes (fewer than 64), the padding and the
    /// length, on the scalar path; returns the 16-byte digest.
    /// </summary>
    public static byte[] Finish(ReadOnlySpan<uint> state, int lane, ReadOnlySpan<byte> tail, long totalLength)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(tail.Length, BlockSize);
        Span<uint> h = [state[lane], state[Lanes + lane], state[(2 * Lanes) + lane], state[(3 * Lanes) + lane]];
        Span<byte> last = stackalloc byte[2 * BlockSize];
        last.Clear();
        tail.CopyTo(last);
        last[tail.Length] = 0x80;
        var length = tail.Length + 1 + 8 <= BlockSize ? BlockSize : 2 * BlockSize;
        BinaryPrimitives.WriteUInt64LittleEndian(last.Slice(length - 8), (ulong)totalLength * 8);
        for (var offset = 0; offset < length; offset += BlockSize)
        {
            ScalarBlock(h, last.Slice(offset, BlockSize));
        }

        var digest = new byte[16];
        for (var i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(digest.AsSpan(4 * i), h[i]);
        }

        return digest;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Step(Vector512<uint> a, Vector512<uint> b, Vector512<uint> c, Vector512<uint> d, Vector512<uint> m, uint k, [ConstantExpected] byte s, [ConstantExpected] byte f)
    {
        // a + m + k does not depend on the previous step, so only F, one add, the rotate and the last add
        // are on the chain from step to step (the kernel is latency-bound: all sixteen lanes are one vector).
        var t = a + (m + Vector512.Create(k));
        return b + Avx512F.RotateLeft(t + Avx512F.TernaryLogic(b, c, d, f), s);
    }

    // Too big to inline into Compress; without this it would run its first calls unoptimised, with every
    // Step and TernaryLogic an actual call (measured: a tenth of a download's CPU went there).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(byte** p, ref Vector512<uint> sa, ref Vector512<uint> sb, ref Vector512<uint> sc, ref Vector512<uint> sd)
    {
        // Row i is lane i's block; transposing gives m[w] = word w of every lane.
        var r0 = Vector512.Load((uint*)p[0]);
        var r1 = Vector512.Load((uint*)p[1]);
        var r2 = Vector512.Load((uint*)p[2]);
        var r3 = Vector512.Load((uint*)p[3]);
        var r4 = Vector512.Load((uint*)p[4]);
        var r5 = Vector512.Load((uint*)p[5]);
        var r6 = Vector512.Load((uint*)p[6]);
        var r7 = Vector512.Load((uint*)p[7]);
        var r8 = Vector512.Load((uint*)p[8]);
        var r9 = Vector512.Load((uint*)p[9]);
        var r10 = Vector512.Load((uint*)p[10]);
        var r11 = Vector512.Load((uint*)p[11]);
        var r12 = Vector512.Load((uint*)p[12]);
        var r13 = Vector512.Load((uint*)p[13]);
        var r14 = Vector512.Load((uint*)p[14]);
        var r15 = Vector512.Load((uint*)p[15]);
        Transpose4(r0, r1, r2, r3, out var q0, out var q1, out var q2, out var q3);
        Transpose4(r4, r5, r6, r7, out var q4, out var q5, out var q6, out var q7);
        Transpose4(r8, r9, r10, r11, out var q8, out var q9, out var q10, out var q11);
        Transpose4(r12, r13, r14, r15, out var q12, out var q13, out var q14, out var q15);
        Columns(q0, q4, q8, q12, out var m0, out var m4, out var m8, out var m12);
        Columns(q1, q5, q9, q13, out var m1, out var m5, out var m9, out var m13);
        Columns(q2, q6, q10, q14, out var m2, out var m6, out var m10, out var m14);
        Columns(q3, q7, q11, q15, out var m3, out var m7, out var m11, out var m15);

        var a = sa;
        var b = sb;
        var c = sc;
        var d = sd;
        a = Step(a, b, c, d, m0, 0xD76AA478u, 7, 0xCA);
        d = Step(d, a, b, c, m1, 0xE8C7B756u, 12, 0xCA);
        c = Step(c, d, a, b, m2, 0x242070DBu, 17, 0xCA);
        b = Step(b, c, d, a, m3, 0xC1BDCEEEu, 22, 0xCA);
        a = Step(a, b, c, d, m4, 0xF57C0FAFu, 7, 0xCA);
        d = Step(d, a, b, c, m5, 0x4787C62Au, 12, 0xCA);
        c = Step(c, d, a, b, m6, 0xA8304613u, 17, 0xCA);
        b = Step(b, c, d, a, m7, 0xFD469501u, 22, 0xCA);
        a = Step(a, b, c, d, m8, 0x698098D8u, 7, 0xCA);
        d = Step(d, a, b, c, m9, 0x8B44F7AFu, 12, 0xCA);
        c = Step(c, d, a, b, m10, 0xFFFF5BB1u, 17, 0xCA);
        b = Step(b, c, d, a, m11, 0x895CD7BEu, 22, 0xCA);
        a = Step(a, b, c, d, m12, 0x6B901122u, 7, 0xCA);
        d = Step(d, a, b, c, m13, 0xFD987193u, 12, 0xCA);
        c = Step(c, d, a, b, m14, 0xA679438Eu, 17, 0xCA);
        b = Step(b, c, d, a, m15, 0x49B40821u, 22, 0xCA);
        a = Step(a, b, c, d, m1, 0xF61E2562u, 5, 0xE4);
        d = Step(d, a, b, c, m6, 0xC040B340u, 9, 0xE4);
        c = Step(c, d, a, b, m11, 0x265E5A51u, 14, 0xE4);
        b = Step(b, c, d, a, m0, 0xE9B6C7AAu, 20, 0xE4);
        a = Step(a, b, c, d, m5, 0xD62F105Du, 5, 0xE4);
        d = Step(d, a, b, c, m10, 0x02441453u, 9, 0xE4);
        c = Step(c, d, a, b, m15, 0xD8A1E681u, 14, 0xE4);
        b = Step(b, c, d, a, m4, 0xE7D3FBC8u, 20, 0xE4);
        a = Step(a, b, c, d, m9, 0x21E1CDE6u, 5, 0xE4);
        d = Step(d, a, b, c, m14, 0xC33707D6u, 9, 0xE4);
        c = Step(c, d, a, b, m3, 0xF4D50D87u, 14, 0xE4);
        b = Step(b, c, d, a, m8, 0x455A14EDu, 20, 0xE4);
        a = Step(a, b, c, d, m13, 0xA9E3E905u, 5, 0xE4);
        d = Step(d, a, b, c, m2, 0xFCEFA3F8u, 9, 0xE4);
        c = Step(c, d, a, b, m7, 0x676F02D9u, 14, 0xE4);
        b = Step(b, c, d, a, m12, 0x8D2A4C8Au, 20, 0xE4);
        a = Step(a, b, c, d, m5, 0xFFFA3942u, 4, 0x96);
        d = Step(d, a, b, c, m8, 0x8771F681u, 11, 0x96);
        c = Step(c, d, a, b, m11, 0x6D9D6122u, 16, 0x96);
        b = Step(b, c, d, a, m14, 0xFDE5380Cu, 23, 0x96);
        a = Step(a, b, c, d, m1, 0xA4BEEA44u, 4, 0x96);
        d = Step(d, a, b, c, m4, 0x4BDECFA9u, 11, 0x96);
        c = Step(c, d, a, b, m7, 0xF6BB4B60u, 16, 0x96);
        b = Step(b, c, d, a, m10, 0xBEBFBC70u, 23, 0x96);
        a = Step(a, b, c, d, m13, 0x289B7EC6u, 4, 0x96);
        d = Step(d, a, b, c, m0, 0xEAA127FAu, 11, 0x96);
        c = Step(c, d, a, b, m3, 0xD4EF3085u, 16, 0x96);
        b = Step(b, c, d, a, m6, 0x04881D05u, 23, 0x96);
        a = Step(a, b, c, d, m9, 0xD9D4D039u, 4, 0x96);
        d = Step(d, a, b, c, m12, 0xE6DB99E5u, 11, 0x96);
        c = Step(c, d, a, b, m15, 0x1FA27CF8u, 16, 0x96);
        b = Step(b, c, d, a, m2, 0xC4AC5665u, 23, 0x96);
        a = Step(a, b, c, d, m0, 0xF4292244u, 6, 0x39);
        d = Step(d, a, b, c, m7, 0x432AFF97u, 10, 0x39);
        c = Step(c, d, a, b, m14, 0xAB9423A7u, 15, 0x39);
        b = Step(b, c, d, a, m5, 0xFC93A039u, 21, 0x39);
        a = Step(a, b, c, d, m12, 0x655B59C3u, 6, 0x39);
        d = Step(d, a, b, c, m3, 0x8F0CCC92u, 10, 0x39);
        c = Step(c, d, a, b, m10, 0xFFEFF47Du, 15, 0x39);
        b = Step(b, c, d, a, m1, 0x85845DD1u, 21, 0x39);
        a = Step(a, b, c, d, m8, 0x6FA87E4Fu, 6, 0x39);
        d = Step(d, a, b, c, m15, 0xFE2CE6E0u, 10, 0x39);
        c = Step(c, d, a, b, m6, 0xA3014314u, 15, 0x39);
        b = Step(b, c, d, a, m13, 0x4E0811A1u, 21, 0x39);
        a = Step(a, b, c, d, m4, 0xF7537E82u, 6, 0x39);
        d = Step(d, a, b, c, m11, 0xBD3AF235u, 10, 0x39);
        c = Step(c, d, a, b, m2, 0x2AD7D2BBu, 15, 0x39);
        b = Step(b, c, d, a, m9, 0xEB86D391u, 21, 0x39);
        sa += a;
        sb += b;
        sc += c;
        sd += d;
    }

    // Rows r0..r3 → q0 = their words {0,4,8,12}, q1 = {1,5,9,13}, q2 = {2,6,10,14}, q3 = {3,7,11,15},
    // each 128-bit lane holding that word of the four rows in order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(Vector512<uint> r0, Vector512<uint> r1, Vector512<uint> r2, Vector512<uint> r3, out Vector512<uint> q0, out Vector512<uint> q1, out Vector512<uint> q2, out Vector512<uint> q3)
    {
        var t0 = Avx512F.UnpackLow(r0, r1).AsUInt64();
        var t1 = Avx512F.UnpackHigh(r0, r1).AsUInt64();
        var t2 = Avx512F.UnpackLow(r2, r3).AsUInt64();
        var t3 = Avx512F.UnpackHigh(r2, r3).AsUInt64();
        q0 = Avx512F.UnpackLow(t0, t2).AsUInt32();
        q1 = Avx512F.UnpackHigh(t0, t2).AsUInt32();
        q2 = Avx512F.UnpackLow(t1, t3).AsUInt32();
        q3 = Avx512F.UnpackHigh(t1, t3).AsUInt32();
    }

    // Four Transpose4 outputs for the same word group (rows 0-3, 4-7, 8-11, 12-15) → the four whole columns
    // w, w+4, w+8, w+12.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns(Vector512<uint> g0, Vector512<uint> g1, Vector512<uint> g2, Vector512<uint> g3, out Vector512<uint> w0, out Vector512<uint> w4, out Vector512<uint> w8, out Vector512<uint> w12)
    {
        var v0 = Avx512F.Shuffle4x128(g0, g1, 0x88);
        var v1 = Avx512F.Shuffle4x128(g0, g1, 0xDD);
        var v2 = Avx512F.Shuffle4x128(g2, g3, 0x88);
        var v3 = Avx512F.Shuffle4x128(g2, g3, 0xDD);
        w0 = Avx512F.Shuffle4x128(v0, v2, 0x88);
        w8 = Avx512F.Shuffle4x128(v0, v2, 0xDD);
        w4 = Avx512F.Shuffle4x128(v1, v3, 0x88);
        w12 = Avx512F.Shuffle4x128(v1, v3, 0xDD);
    }

    private static readonly uint[] K =
    [
        0xD76AA478, 0xE8C7B756, 0x242070DB, 0xC1BDCEEE, 0xF57C0FAF, 0x4787C62A, 0xA8304613, 0xFD469501,
        0x698098D8, 0x8B44F7AF, 0xFFFF5BB1, 0x895CD7BE, 0x6B901122, 0xFD987193, 0xA679438E, 0x49B40821,
        0xF61E2562, 0xC040B340, 0x265E5A51, 0xE9B6C7AA, 0xD62F105D, 0x02441453, 0xD8A1E681, 0xE7D3FBC8,
        0x21E1CDE6, 0xC33707D6, 0xF4D50D87, 0x455A14ED, 0xA9E3E905, 0xFCEFA3F8, 0x676F02D9, 0x8D2A4C8A,
        0xFFFA3942, 0x8771F681, 0x6D9D6122, 0xFDE5380C, 0xA4BEEA44, 0x4BDECFA9, 0xF6BB4B60, 0xBEBFBC70,
        0x289B7EC6, 0xEAA127FA, 0xD4EF3085, 0x04881D05, 0xD9D4D039, 0xE6DB99E5, 0x1FA27CF8, 0xC4AC5665,
        0xF4292244, 0x432AFF97, 0xAB9423A7, 0xFC93A039, 0x655B59C3, 0x8F0CCC92, 0xFFEFF47D, 0x85845DD1,
        0x6FA87E4F, 0xFE2CE6E0, 0xA3014314, 0x4E0811A1, 0xF7537E82, 0xBD3AF235, 0x2AD7D2BB, 0xEB86D391,
    ];

    private static readonly byte[] Shifts = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

    /// <summary>One block on the plain scalar path (only the last one or two blocks of a message take it).</summary>
    private static void ScalarBlock(Span<uint> h, ReadOnlySpan<byte> block)
    {
        Span<uint> m = stackalloc uint[16];
        for (var i = 0; i < 16; i++)
        {
            m[i] = BinaryPrimitives.ReadUInt32LittleEndian(block.Slice(4 * i));
        }

        uint a = h[0], b = h[1], c = h[2], d = h[3];
        for (var i = 0; i < 64; i++)
        {
            uint f;
            int g;
            switch (i >> 4)
            {
                case 0: f = (b & c) | (~b & d); g = i; break;
                case 1: f = (d & b) | (~d & c); g = ((5 * i) + 1) & 15; break;
                case 2: f = b ^ c ^ d; g = ((3 * i) + 5) & 15; break;
                default: f = c ^ (b | ~d); g = (7 * i) & 15; break;
            }

            var rotated = uint.RotateLeft(a + f + K[i] + m[g], Shifts[((i >> 4) * 4) + (i & 3)]);
            a = d;
            d = c;
            c = b;
            b += rotated;
        }

        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
    }
}
