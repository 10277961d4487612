using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Crypto;

/// <summary>
/// AES-ECB header protection (RFC 9001 §5.4.3) through a platform <see cref="ICryptoTransform"/> created once per
/// key; the fallback when AES-NI intrinsics are unavailable. Not the one-shot <c>Aes.EncryptEcb</c>, which creates
/// a native context per call.
/// </summary>
internal sealed class AesTransformHeaderProtection : HeaderProtection
{
    private readonly System.Security.Cryptography.Aes _aes;
    private readonly ICryptoTransform _encryptor;

    // TransformBlock takes arrays: one input and one output block, allocated once per key.
    private readonly byte[] _input = new byte[SampleLength];
    private readonly byte[] _output = new byte[MaskBufferLength];

    public AesTransformHeaderProtection(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (16 or 32))
        {
            throw new ArgumentException("AES header protection keys are 16 or 32 bytes (RFC 9001 §5.4.3).", nameof(key));
        }

        _aes = System.Security.Cryptography.Aes.Create();
        try
        {
            byte[] keyCopy = key.ToArray();
            _aes.Key = keyCopy;
            CryptographicOperations.ZeroMemory(keyCopy);
#pragma warning disable CA5358 // RFC 9001 §5.4.3 specifies AES-ECB of exactly one block (the sample) as the mask function.
            _aes.Mode = CipherMode.ECB;
#pragma warning restore CA5358
            _aes.Padding = PaddingMode.None;
            _encryptor = _aes.CreateEncryptor();
        }
        catch
        {
            _aes.Dispose();
            throw;
        }
    }

    public override void ComputeMask(ReadOnlySpan<byte> sample, Span<byte> mask)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sample.Length, SampleLength, nameof(sample));
        ArgumentOutOfRangeException.ThrowIfLessThan(mask.Length, MaskBufferLength, nameof(mask));
        sample[..SampleLength].CopyTo(_input);
        _encryptor.TransformBlock(_input, 0, SampleLength, _output, 0);
        _output.CopyTo(mask);
    }

    protected override void DisposeKey()
    {
        _encryptor.Dispose();
        _aes.Dispose();
        CryptographicOperations.ZeroMemory(_output);
    }
}
