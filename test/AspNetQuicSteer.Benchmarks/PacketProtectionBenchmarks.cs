using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using BenchmarkDotNet.Attributes;

namespace AspNetQuicSteer.Benchmarks;

public enum BenchSuite
{
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// <summary>
/// Whole-packet protection of a 1200-byte 1-RTT packet (short header, 8-byte DCID, 2-byte packet number):
/// AEAD + header protection (RFC 9001 §5.3, §5.4), per cipher suite.
/// </summary>
[MemoryDiagnoser]
public class PacketProtectionBenchmarks
{
    private const int PacketLength = 1200;
    private const int PnOffset = 1 + 8;
    private const int PnLength = 2;
    private const int PayloadLength = PacketLength - PnOffset - PnLength - PacketProtectionKeys.TagLength;

    private readonly byte[] _header = new byte[PnOffset + PnLength];
    private readonly byte[] _packet = new byte[PacketLength];
    private readonly byte[] _sealed = new byte[PacketLength];
    private readonly byte[] _forged = new byte[PacketLength];
    private readonly byte[] _work = new byte[PacketLength];
    private PacketProtectionKeys _sender = null!;
    private PacketProtectionKeys _receiver = null!;
    private ulong _packetNumber;

    [Params(BenchSuite.Aes128Gcm, BenchSuite.Aes256Gcm, BenchSuite.ChaCha20Poly1305)]
    public BenchSuite Suite { get; set; }

    private const ulong SealedPacketNumber = 0x1234;

    [GlobalSetup]
    public void Setup()
    {
        TlsCipherSuite suite = Suite switch
        {
            BenchSuite.Aes128Gcm => TlsCipherSuite.Aes128GcmSha256,
            BenchSuite.Aes256Gcm => TlsCipherSuite.Aes256GcmSha384,
            _ => TlsCipherSuite.ChaCha20Poly1305Sha256,
        };
        byte[] secret = RandomNumberGenerator.GetBytes(suite.HashLength());
        _sender = PacketProtectionKeys.Create(suite, secret);
        _receiver = PacketProtectionKeys.Create(suite, secret);

        _header[0] = 0x40 | (PnLength - 1);
        RandomNumberGenerator.Fill(_header.AsSpan(1, 8));
        _header[PnOffset] = (byte)(SealedPacketNumber >> 8);
        _header[PnOffset + 1] = unchecked((byte)SealedPacketNumber);
        _header.CopyTo(_sealed, 0);
        RandomNumberGenerator.Fill(_sealed.AsSpan(_header.Length, PayloadLength));
        _sealed.CopyTo(_packet, 0);
        using (PacketProtectionKeys once = PacketProtectionKeys.Create(suite, secret))
        {
            once.Seal(_sealed, PnOffset, PnLength, PayloadLength, SealedPacketNumber);
        }

        _sealed.CopyTo(_forged, 0);
        _forged[PacketLength - 1] ^= 1;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sender.Dispose();
        _receiver.Dispose();
    }

    /// <summary>Write the (plaintext) header, then AEAD-seal 1173 bytes in place and apply header protection.</summary>
    [Benchmark]
    public int Seal()
    {
        if (_sender.ConfidentialityLimitReached)
        {
            // RFC 9001 §6.6: 2^23 packets per AES-GCM key; a long benchmark run crosses it, so update keys as a
            // connection would (amortized: one derivation per 8M packets).
            PacketProtectionKeys next = _sender.NextKeyPhase();
            _sender.Dispose();
            _sender = next;
        }

        _header.CopyTo(_packet, 0);
        return _sender.Seal(_packet, PnOffset, PnLength, PayloadLength, _packetNumber++);
    }

    /// <summary>Copy a sealed 1200-byte packet (the opened buffer is destroyed in place), remove HP, AEAD-open.</summary>
    [Benchmark]
    public int Open()
    {
        _sealed.CopyTo(_work, 0);
        if (!_receiver.TryUnprotectHeader(_work, PnOffset, out int pnLength)
            || !_receiver.TryOpen(_work, PnOffset, pnLength, SealedPacketNumber, out int payloadLength))
        {
            throw new InvalidOperationException("open failed");
        }

        return payloadLength;
    }

    /// <summary>A forged packet (last tag bit flipped): .NET reports the failure by throwing, caught inside TryOpen.</summary>
    [Benchmark]
    public bool OpenForged()
    {
        _forged.CopyTo(_work, 0);
        return _receiver.TryUnprotectHeader(_work, PnOffset, out int pnLength)
            && _receiver.TryOpen(_work, PnOffset, pnLength, SealedPacketNumber, out _);
    }
}
