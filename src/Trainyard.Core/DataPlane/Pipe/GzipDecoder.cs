using System.Runtime.InteropServices;

namespace Trainyard.DataPlane.Pipe;

/// <summary>
/// Decompresses a gzip object — every member of it, as <c>gzip -dc</c> does — and, unlike
/// <see cref="System.IO.Compression.GZipStream"/>, fails on a truncated object instead of ending quietly, and
/// lets zlib check each member's CRC-32 and length. A zero-byte object is empty content. It drives the zlib(-ng) that ships with .NET
/// (libSystem.IO.Compression.Native) directly and inflates straight into the caller's buffer.
/// </summary>
/// <exception cref="InvalidDataException">Thrown by reads when the data is not gzip, is corrupt or is truncated.</exception>
internal sealed partial class GzipDecoder : Stream
{
    private const string ZLib = "libSystem.IO.Compression.Native";
    private const int GzipWindowBits = 16 + 15;
    private const int InputBufferSize = 1 << 18;
    private const int ZOk = 0;
    private const int ZStreamEnd = 1;
    private const int ZBufError = -5;

    private readonly Stream _input;
    private readonly byte[] _inputBuffer = GC.AllocateUninitializedArray<byte>(InputBufferSize, pinned: true);
    private readonly unsafe ZStream* _zstream;
    private int _inputOffset;
    private int _inputCount;
    private bool _inputEnded;
    private bool _memberEnded = true;
    private bool _anyMember;
    private bool _finished;
    private bool _disposed;

    public unsafe GzipDecoder(Stream input)
    {
        _input = input;
        _zstream = (ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
        var rc = InflateInit2(_zstream, GzipWindowBits);
        if (rc != ZOk)
        {
            NativeMemory.Free(_zstream);
            throw new InvalidOperationException($"zlib inflateInit2 failed ({rc}).");
        }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            if (TryInflate(buffer, out var produced))
            {
                return produced;
            }

            Fill(_input.Read(_inputBuffer));
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            if (TryInflate(buffer.Span, out var produced))
            {
                return produced;
            }

            Fill(await _input.ReadAsync(_inputBuffer, cancellationToken).ConfigureAwait(false));
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Fill(int read)
    {
        _inputOffset = 0;
        _inputCount = read;
        _inputEnded = read == 0;
    }

    /// <summary>Inflates what input there is; false when more input is needed first.</summary>
    private unsafe bool TryInflate(Span<byte> output, out int produced)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        produced = 0;
        if (_finished || output.IsEmpty)
        {
            return true;
        }

        while (true)
        {
            if (_inputCount == 0)
            {
                if (!_inputEnded)
                {
                    return false;
                }

                // A zero-byte object decodes to nothing (.NET's GZipStream writes no member for empty content,
                // and Python's gzip.decompress accepts it); a member cut short is an error.
                if (!_memberEnded)
                {
                    throw new InvalidDataException("unexpected end of gzip data (truncated object)");
                }

                _finished = true;
                return true;
            }

            if (_memberEnded)
            {
                // The next member of a multi-member file (cat a.gz b.gz), as gzip -dc reads it.
                if (_anyMember)
                {
                    Check(InflateReset2(_zstream, GzipWindowBits), "inflateReset2");
                }

                _memberEnded = false;
                _anyMember = true;
            }

            int rc;
            fixed (byte* input = &_inputBuffer[_inputOffset])
            fixed (byte* destination = output)
            {
                _zstream->NextIn = input;
                _zstream->AvailIn = (uint)_inputCount;
                _zstream->NextOut = destination;
                _zstream->AvailOut = (uint)output.Length;
                rc = Inflate(_zstream, 0);
                var consumed = _inputCount - (int)_zstream->AvailIn;
                _inputOffset += consumed;
                _inputCount -= consumed;
                produced = output.Length - (int)_zstream->AvailOut;
                _zstream->NextIn = null;
                _zstream->NextOut = null;
            }

            switch (rc)
            {
                case ZStreamEnd:
                    _memberEnded = true;
                    break;
                case ZOk or ZBufError:
                    break;
                default:
                    Check(rc, "inflate");
                    break;
            }

            if (produced > 0)
            {
                return true;
            }
        }
    }

    private unsafe void Check(int rc, string call)
    {
        if (rc is ZOk or ZStreamEnd)
        {
            return;
        }

        var message = _zstream->Msg != null ? Marshal.PtrToStringUTF8((nint)_zstream->Msg) : null;
        throw new InvalidDataException($"{message ?? call + " failed"} (zlib {rc})");
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override unsafe void Dispose(bool disposing)
    {
        if (!_disposed)
        {
            _disposed = true;
            _ = InflateEnd(_zstream);
            NativeMemory.Free(_zstream);
            if (disposing)
            {
                _input.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _input.DisposeAsync().ConfigureAwait(false);
        Dispose(false);
        GC.SuppressFinalize(this);
    }

    ~GzipDecoder() => Dispose(false);

    // PAL_ZStream of dotnet/runtime src/native/libs/System.IO.Compression.Native/pal_zlib.h.
    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public byte* Msg;
        public nint InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

    [LibraryImport(ZLib, EntryPoint = "CompressionNative_InflateInit2_")]
    private static unsafe partial int InflateInit2(ZStream* stream, int windowBits);

    [LibraryImport(ZLib, EntryPoint = "CompressionNative_Inflate")]
    private static unsafe partial int Inflate(ZStream* stream, int flush);

    [LibraryImport(ZLib, EntryPoint = "CompressionNative_InflateReset2_")]
    private static unsafe partial int InflateReset2(ZStream* stream, int windowBits);

    [LibraryImport(ZLib, EntryPoint = "CompressionNative_InflateEnd")]
    private static unsafe partial int InflateEnd(ZStream* stream);
}
