using System.Globalization;
using System.Net;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// The sample site's body pattern: byte i of a body is i % 251 (/bytes/{n} responses; uploads, which /echo returns).
/// One shared block of the pattern, a multiple of 251 long, serves every upload and every comparison.
/// </summary>
internal static class BodyPattern
{
    public const int Modulus = 251;

    /// <summary>Length of <see cref="Block"/>: 262 periods, just over 64 KiB, so a 64 KiB read compares in one piece at any phase.</summary>
    public const int BlockLength = Modulus * 262;

    private static readonly byte[] s_block = CreateBlock();

    /// <summary>The pattern from offset 0; starts at phase 0 and ends at a whole period.</summary>
    public static ReadOnlyMemory<byte> Block => s_block;

    /// <summary>
    /// Compares <paramref name="data"/> with the pattern at body offset <paramref name="offset"/>; returns the index in
    /// <paramref name="data"/> of the first differing byte, or -1 when all match.
    /// </summary>
    public static int FindMismatch(long offset, ReadOnlySpan<byte> data)
    {
        int phase = (int)(offset % Modulus);
        int checkedBytes = 0;
        while (!data.IsEmpty)
        {
            int length = Math.Min(data.Length, s_block.Length - phase);
            ReadOnlySpan<byte> expected = s_block.AsSpan(phase, length);
            ReadOnlySpan<byte> actual = data[..length];
            if (!actual.SequenceEqual(expected))
            {
                return checkedBytes + actual.CommonPrefixLength(expected);
            }

            checkedBytes += length;
            data = data[length..];
            phase = (phase + length) % Modulus;
        }

        return -1;
    }

    private static byte[] CreateBlock()
    {
        byte[] block = new byte[BlockLength];
        for (int i = 0; i < block.Length; i++)
        {
            block[i] = (byte)(i % Modulus);
        }

        return block;
    }
}

/// <summary>
/// A request body of <c>length</c> pattern bytes, streamed from <see cref="BodyPattern.Block"/> (nothing per request
/// but this object); Content-Length is set. Counts the bytes it wrote into the worker's counters.
/// </summary>
internal sealed class PatternContent : HttpContent
{
    private readonly long _length;
    private readonly LoadWorker? _counters;
    private readonly bool _measured;

    public PatternContent(long length, LoadWorker? counters = null, bool measured = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _length = length;
        _counters = counters;
        _measured = measured;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ReadOnlyMemory<byte> block = BodyPattern.Block;
        for (long sent = 0; sent < _length;)
        {
            // Every write but the last is a whole block, so each starts at phase 0.
            int chunk = (int)Math.Min(block.Length, _length - sent);
            await stream.WriteAsync(block[..chunk], cancellationToken).ConfigureAwait(false);
            sent += chunk;
            _counters?.AddSent(chunk, _measured);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }
}

/// <summary>
/// Checks a response body as it arrives (--verify): 2xx status, pattern bytes, and exactly the expected length.
/// A mutable struct kept in a local of the worker; nothing is buffered.
/// </summary>
internal struct BodyVerifier
{
    private readonly long _expectedLength;
    private long _offset;
    private long _mismatchAt;

    public BodyVerifier(long expectedLength)
    {
        _expectedLength = expectedLength;
        _mismatchAt = -1;
    }

    /// <summary>Checks the next piece of the body.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        if (_mismatchAt < 0 && _offset < _expectedLength)
        {
            ReadOnlySpan<byte> inRange = data[..(int)Math.Min(data.Length, _expectedLength - _offset)];
            int mismatch = BodyPattern.FindMismatch(_offset, inRange);
            if (mismatch >= 0)
            {
                _mismatchAt = _offset + mismatch;
            }
        }

        _offset += data.Length;
    }

    /// <summary>After the whole body: null when it was right, else what was wrong.</summary>
    public readonly string? Complete(HttpStatusCode status)
    {
        int code = (int)status;
        if (code is < 200 or > 299)
        {
            return string.Create(CultureInfo.InvariantCulture, $"status {code}, expected 2xx");
        }

        if (_mismatchAt >= 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"body byte {_mismatchAt} differs from the pattern (i % 251)");
        }

        if (_offset != _expectedLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"body length {_offset}, expected {_expectedLength}");
        }

        return null;
    }
}
