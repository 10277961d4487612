using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// ChaCha20 header protection (RFC 9001 §5.4.4): mask = ChaCha20(hp_key, counter = sample[0..4] as a little-endian
/// 32-bit integer, nonce = sample[4..16], 5 zero bytes). .NET has no raw ChaCha20, so this calls libsodium's
/// crypto_stream_chacha20_ietf_xor_ic (RFC 8439 variant: 32-bit counter, 96-bit nonce), shipped for linux-x64 in the
/// libsodium package that NSec.Cryptography depends on.
/// </summary>
internal sealed class ChaCha20HeaderProtection : HeaderProtection
{
    private const int KeyLength = 32;
    private const int NonceOffset = 4;
    private const int MaskLength = 5;

    // Pinned so the native call can take its address without pinning per packet.
    private readonly byte[] _key = GC.AllocateArray<byte>(KeyLength, pinned: true);

    public ChaCha20HeaderProtection(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException("ChaCha20 header protection keys are 32 bytes (RFC 9001 §5.4.4).", nameof(key));
        }

        LibSodium.EnsureInitialized();
        key.CopyTo(_key);
    }

    public override unsafe void ComputeMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sample.Length, SampleLength, nameof(sample));
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, MaskBufferLength, nameof(mask));

        // RFC 9001 §5.4.4: "The first 4 bytes of the sampled ciphertext are the block counter ... interpreted as a
        // little-endian value. The remaining 12 bytes are used as the nonce." The mask is ChaCha20 of 5 zero bytes.
        uint counter = BinaryPrimitives.ReadUInt32LittleEndian(sample);
        mask[..MaskLength].Clear();
        fixed (byte* m = mask)
        fixed (byte* n = sample)
        fixed (byte* k = _key)
        {
            // In place: libsodium allows c == m. Only fails for lengths beyond its stream limit, never for 5 bytes.
            _ = LibSodium.crypto_stream_chacha20_ietf_xor_ic(m, m, MaskLength, n + NonceOffset, counter, k);
        }
    }

    protected override void DisposeKey() => CryptographicOperations.ZeroMemory(_key);
}

internal static unsafe partial class LibSodium
{
    private const string Library = "libsodium";
    private static int s_initialized;

    /// <summary>sodium_init selects the fastest implementations; safe to call repeatedly and from any thread.</summary>
    public static void EnsureInitialized()
    {
        if (Volatile.Read(ref s_initialized) != 0)
        {
            return;
        }

        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium failed to initialize.");
        }

        Volatile.Write(ref s_initialized, 1);
    }

    [LibraryImport(Library)]
    private static partial int sodium_init();

    // int crypto_stream_chacha20_ietf_xor_ic(unsigned char *c, const unsigned char *m, unsigned long long mlen,
    //     const unsigned char *n, uint32_t ic, const unsigned char *k);
    [LibraryImport(Library)]
    [SuppressGCTransition]
    internal static partial int crypto_stream_chacha20_ietf_xor_ic(byte* c, byte* m, ulong mlen, byte* n, uint ic, byte* k);
}
