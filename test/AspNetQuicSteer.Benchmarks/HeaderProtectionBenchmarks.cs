using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using BenchmarkDotNet.Attributes;

namespace AspNetQuicSteer.Benchmarks;

/// <summary>One header protection mask (RFC 9001 §5.4.3 AES-ECB / §5.4.4 ChaCha20) from a 16-byte sample.</summary>
[MemoryDiagnoser]
public class HeaderProtectionBenchmarks
{
    private readonly byte[] _sample = RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _mask = new byte[16];
    private HeaderProtection _aesNi = null!;
    private HeaderProtection _aesTransform = null!;
    private HeaderProtection _chaCha = null!;
    private System.Security.Cryptography.Aes _oneShot = null!;

    [GlobalSetup]
    public void Setup()
    {
        byte[] aesKey = RandomNumberGenerator.GetBytes(16);
        _aesNi = HeaderProtection.CreateAes(aesKey, preferIntrinsics: true);
        if (_aesNi is not AesNiHeaderProtection)
        {
            throw new InvalidOperationException("AES-NI not available; the intrinsic benchmark would measure the fallback.");
        }

        _aesTransform = HeaderProtection.CreateAes(aesKey, preferIntrinsics: false);
        _chaCha = HeaderProtection.Create(TlsCipherSuite.ChaCha20Poly1305Sha256, RandomNumberGenerator.GetBytes(32));
        _oneShot = System.Security.Cryptography.Aes.Create();
        _oneShot.Key = aesKey;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _aesNi.Dispose();
        _aesTransform.Dispose();
        _chaCha.Dispose();
        _oneShot.Dispose();
    }

    [Benchmark]
    public byte Aes128Intrinsics()
    {
        _aesNi.ComputeMask(_sample, _mask);
        return _mask[0];
    }

    [Benchmark]
    public byte Aes128Transform()
    {
        _aesTransform.ComputeMask(_sample, _mask);
        return _mask[0];
    }

    [Benchmark]
    public byte ChaCha20LibSodium()
    {
        _chaCha.ComputeMask(_sample, _mask);
        return _mask[0];
    }

    /// <summary>Baseline: the one-shot API creates a native cipher context on every call.</summary>
    [Benchmark(Baseline = true)]
    public byte Aes128EncryptEcbOneShot()
    {
        _oneShot.EncryptEcb(_sample, _mask, PaddingMode.None);
        return _mask[0];
    }
}
