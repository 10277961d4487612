using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// HKDF-Expand-Label and Derive-Secret (RFC 8446 §7.1), shared by the TLS key schedule and QUIC packet
/// protection (RFC 9001 §5.1 uses the same construction with "quic key", "quic iv", "quic hp", "quic ku").
/// </summary>
internal static class HkdfLabel
{
    private const int MaxLabelLength = 255;

    /// <summary>HKDF-Expand-Label(Secret, Label, Context, Length) with the "tls13 " prefix added here.</summary>
    public static void ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> context, Span<byte> output)
    {
        ReadOnlySpan<byte> prefix = "tls13 "u8;
        int labelLength = prefix.Length + label.Length;
        if (labelLength > MaxLabelLength || context.Length > 255 || output.Length > ushort.MaxValue)
        {
            throw new ArgumentException("HKDF label, context or output too long.");
        }

        // struct { uint16 length; opaque label<7..255>; opaque context<0..255>; } HkdfLabel;
        Span<byte> info = stackalloc byte[2 + 1 + labelLength + 1 + context.Length];
        info[0] = (byte)(output.Length >> 8);
        info[1] = (byte)output.Length;
        info[2] = (byte)labelLength;
        prefix.CopyTo(info[3..]);
        label.CopyTo(info[(3 + prefix.Length)..]);
        info[3 + labelLength] = (byte)context.Length;
        context.CopyTo(info[(4 + labelLength)..]);
        HKDF.Expand(hash, secret, output, info);
    }

    public static byte[] ExpandLabel(HashAlgorithmName hash, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> context, int length)
    {
        byte[] output = new byte[length];
        ExpandLabel(hash, secret, label, context, output);
        return output;
    }

    /// <summary>Derive-Secret(Secret, Label, Messages) = HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length).</summary>
    public static byte[] DeriveSecret(HashAlgorithmName hash, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> transcriptHash)
        => ExpandLabel(hash, secret, label, transcriptHash, transcriptHash.Length);
}
