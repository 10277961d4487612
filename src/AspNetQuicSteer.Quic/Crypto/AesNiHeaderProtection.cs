using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AesNi = System.Runtime.Intrinsics.X86.Aes;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// AES-ECB header protection (RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample)) with AES-NI instructions. The key
/// schedule (FIPS 197 §5.2) is expanded once per key; a mask is one block encryption with no allocation.
/// AES-128 (10 rounds) for AEAD_AES_128_GCM, AES-256 (14 rounds) for AEAD_AES_256_GCM.
/// </summary>
internal sealed class AesNiHeaderProtection : HeaderProtection
{
    private readonly Vector128<byte>[] _roundKeys;

    public AesNiHeaderProtection(ReadOnlySpan<byte> key)
    {
        if (!IsSupported)
        {
            throw new PlatformNotSupportedException("AES-NI is not available.");
        }

        _roundKeys = key.Length switch
        {
            16 => ExpandKey128(Vector128.Create(key)),
            32 => ExpandKey256(Vector128.Create(key), Vector128.Create(key[16..])),
            _ => throw new ArgumentException("AES header protection keys are 16 or 32 bytes (RFC 9001 §5.4.3).", nameof(key)),
        };
    }

    public static bool IsSupported => AesNi.IsSupported && Sse2.IsSupported;

    public override void ComputeMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sample.Length, SampleLength, nameof(sample));
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, MaskBufferLength, nameof(mask));
        Vector128<byte>[] roundKeys = _roundKeys;
        Vector128<byte> block = Vector128.Create(sample) ^ roundKeys[0];
        int last = roundKeys.Length - 1;
        for (int i = 1; i < last; i++)
        {
            block = AesNi.Encrypt(block, roundKeys[i]);
        }

        AesNi.EncryptLast(block, roundKeys[last]).CopyTo(mask);
    }

    protected override void DisposeKey() => Array.Clear(_roundKeys);

    // FIPS 197 §5.2 key expansion, one 128-bit round key per step. AESKEYGENASSIST yields
    // [SubWord(X1), RotWord(SubWord(X1)) ^ rcon, SubWord(X3), RotWord(SubWord(X3)) ^ rcon] of its input's words.
    private static Vector128<byte>[] ExpandKey128(Vector128<byte> key)
    {
        var rk = new Vector128<byte>[11];
        rk[0] = key;
        rk[1] = NextWithRotWord(rk[0], AesNi.KeygenAssist(rk[0], 0x01));
        rk[2] = NextWithRotWord(rk[1], AesNi.KeygenAssist(rk[1], 0x02));
        rk[3] = NextWithRotWord(rk[2], AesNi.KeygenAssist(rk[2], 0x04));
        rk[4] = NextWithRotWord(rk[3], AesNi.KeygenAssist(rk[3], 0x08));
        rk[5] = NextWithRotWord(rk[4], AesNi.KeygenAssist(rk[4], 0x10));
        rk[6] = NextWithRotWord(rk[5], AesNi.KeygenAssist(rk[5], 0x20));
        rk[7] = NextWithRotWord(rk[6], AesNi.KeygenAssist(rk[6], 0x40));
        rk[8] = NextWithRotWord(rk[7], AesNi.KeygenAssist(rk[7], 0x80));
        rk[9] = NextWithRotWord(rk[8], AesNi.KeygenAssist(rk[8], 0x1b));
        rk[10] = NextWithRotWord(rk[9], AesNi.KeygenAssist(rk[9], 0x36));
        return rk;
    }

    private static Vector128<byte>[] ExpandKey256(Vector128<byte> low, Vector128<byte> high)
    {
        // Nk = 8: even round keys use RotWord(SubWord(w)) ^ rcon, odd ones SubWord(w) only (FIPS 197 §5.2, i mod Nk = 4).
        var rk = new Vector128<byte>[15];
        rk[0] = low;
        rk[1] = high;
        rk[2] = NextWithRotWord(rk[0], AesNi.KeygenAssist(rk[1], 0x01));
        rk[3] = NextWithSubWord(rk[1], AesNi.KeygenAssist(rk[2], 0x00));
        rk[4] = NextWithRotWord(rk[2], AesNi.KeygenAssist(rk[3], 0x02));
        rk[5] = NextWithSubWord(rk[3], AesNi.KeygenAssist(rk[4], 0x00));
        rk[6] = NextWithRotWord(rk[4], AesNi.KeygenAssist(rk[5], 0x04));
        rk[7] = NextWithSubWord(rk[5], AesNi.KeygenAssist(rk[6], 0x00));
        rk[8] = NextWithRotWord(rk[6], AesNi.KeygenAssist(rk[7], 0x08));
        rk[9] = NextWithSubWord(rk[7], AesNi.KeygenAssist(rk[8], 0x00));
        rk[10] = NextWithRotWord(rk[8], AesNi.KeygenAssist(rk[9], 0x10));
        rk[11] = NextWithSubWord(rk[9], AesNi.KeygenAssist(rk[10], 0x00));
        rk[12] = NextWithRotWord(rk[10], AesNi.KeygenAssist(rk[11], 0x20));
        rk[13] = NextWithSubWord(rk[11], AesNi.KeygenAssist(rk[12], 0x00));
        rk[14] = NextWithRotWord(rk[12], AesNi.KeygenAssist(rk[13], 0x40));
        return rk;
    }

    // w'[0] = w[0] ^ t, w'[j] = w'[j-1] ^ w[j]: a running XOR across the four words, then XOR t into every word.
    private static Vector128<byte> NextWithRotWord(Vector128<byte> previous, Vector128<byte> assist)
        => PrefixXor(previous) ^ Sse2.Shuffle(assist.AsUInt32(), 0xFF).AsByte();

    private static Vector128<byte> NextWithSubWord(Vector128<byte> previous, Vector128<byte> assist)
        => PrefixXor(previous) ^ Sse2.Shuffle(assist.AsUInt32(), 0xAA).AsByte();

    private static Vector128<byte> PrefixXor(Vector128<byte> w)
    {
        w ^= Sse2.ShiftLeftLogical128BitLane(w, 4);
        w ^= Sse2.ShiftLeftLogical128BitLane(w, 4);
        w ^= Sse2.ShiftLeftLogical128BitLane(w, 4);
        return w;
    }
}
