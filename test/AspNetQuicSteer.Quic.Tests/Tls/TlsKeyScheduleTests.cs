using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Tls.KeyExchange;
using static AspNetQuicSteer.Quic.Tests.Tls.Rfc8448Vectors;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>RFC 8446 §7.1 key schedule and §4.4.1 transcript against RFC 8448 §3 (and the §4 PSK early secret).</summary>
public sealed class TlsKeyScheduleTests
{
    [Fact]
    public void Rfc8448Section3_EverySecretFromSharedSecretAndMessages()
    {
        using TlsTranscript transcript = new();
        transcript.SetHash(TlsCipherSuite.Aes128GcmSha256.Hash());
        using TlsKeySchedule schedule = new(TlsCipherSuite.Aes128GcmSha256);
        Assert.Equal(EarlySecret, schedule.EarlySecret);

        transcript.Append(ClientHello);
        transcript.Append(ServerHello);
        Assert.Equal(HelloHash, transcript.CurrentHash());
        schedule.DeriveHandshakeSecret(SharedSecret);
        Assert.Equal(HandshakeSecret, schedule.HandshakeSecret);
        (byte[] clientHs, byte[] serverHs) = schedule.DeriveHandshakeTrafficSecrets(transcript.CurrentHash());
        Assert.Equal(ClientHandshakeTrafficSecret, clientHs);
        Assert.Equal(ServerHandshakeTrafficSecret, serverHs);
        Assert.Equal(ServerFinishedKey, schedule.DeriveFinishedKey(serverHs));
        Assert.Equal(ClientFinishedKey, schedule.DeriveFinishedKey(clientHs));

        transcript.Append(EncryptedExtensions);
        transcript.Append(Certificate);
        transcript.Append(CertificateVerify);

        // RFC 8446 §4.4.4: server verify_data over ClientHello..CertificateVerify.
        Assert.Equal(ServerFinished.AsSpan(4).ToArray(), schedule.ComputeFinishedVerifyData(serverHs, transcript.CurrentHash()));
        transcript.Append(ServerFinished);
        Assert.Equal(ServerFinishedHash, transcript.CurrentHash());

        schedule.DeriveMasterSecret();
        Assert.Equal(MasterSecret, schedule.MasterSecret);
        (byte[] clientAp, byte[] serverAp) = schedule.DeriveApplicationTrafficSecrets(transcript.CurrentHash());
        Assert.Equal(ClientApplicationTrafficSecret, clientAp);
        Assert.Equal(ServerApplicationTrafficSecret, serverAp);
        Assert.Equal(ExporterMasterSecret, schedule.DeriveExporterMasterSecret(transcript.CurrentHash()));

        Assert.Equal(ClientFinished.AsSpan(4).ToArray(), schedule.ComputeFinishedVerifyData(clientHs, transcript.CurrentHash()));
        transcript.Append(ClientFinished);
        Assert.Equal(ClientFinishedHash, transcript.CurrentHash());
        byte[] resumption = schedule.DeriveResumptionMasterSecret(transcript.CurrentHash());
        Assert.Equal(ResumptionMasterSecret, resumption);

        // RFC 8446 §4.6.1 with the §3 ticket nonce (00 00): the PSK used by RFC 8448 §4.
        Assert.Equal(ResumptionPsk, schedule.DeriveResumptionPsk(resumption, [0, 0]));
    }

    [Fact]
    public void Rfc8448Section4_PskSeamGivesEarlySecretAndBinderKey()
    {
        using TlsKeySchedule schedule = new(TlsCipherSuite.Aes128GcmSha256, ResumptionPsk);
        Assert.Equal(PskEarlySecret, schedule.EarlySecret);
        Assert.Equal(ResumptionBinderKey, schedule.DeriveBinderKey(resumption: true));
    }

    [Fact]
    public void Rfc8448Section3_X25519SharedSecretFromTheGivenKeys()
    {
        using X25519KeyExchange server = new(ServerPrivateKey);
        using X25519KeyExchange client = new(ClientPrivateKey);
        Assert.Equal(ServerPublicKey, server.PublicKey);
        Assert.Equal(ClientPublicKey, client.PublicKey);
        Assert.Equal(SharedSecret, server.DeriveSharedSecret(ClientPublicKey));
        Assert.Equal(SharedSecret, client.DeriveSharedSecret(ServerPublicKey));
    }

    [Fact]
    public void Rfc8448Section3_CertificateVerifyValidatesWithOurVerifier()
    {
        using TlsTranscript transcript = new();
        transcript.SetHash(TlsCipherSuite.Aes128GcmSha256.Hash());
        foreach (byte[] m in (byte[][])[ClientHello, ServerHello, EncryptedExtensions, Certificate])
        {
            transcript.Append(m);
        }

        var certificate = AspNetQuicSteer.Quic.Tls.Messages.CertificateMessage.Decode(Certificate.AsSpan(4));
        var verify = AspNetQuicSteer.Quic.Tls.Messages.CertificateVerifyMessage.Decode(CertificateVerify.AsSpan(4));
        using var leaf = TlsCertificateValidator.Load(certificate.Certificates[0]);
        byte[] content = TlsSignatures.BuildSignedContent(server: true, transcript.CurrentHash());
        TlsSignatures.Verify(leaf, verify.Scheme, content, verify.Signature);

        // RFC 8446 §4.4.3: a wrong transcript makes the signature fail with decrypt_error.
        content[^1] ^= 1;
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => TlsSignatures.Verify(leaf, verify.Scheme, content, verify.Signature));
        Assert.Equal(TlsAlert.DecryptError, e.Alert);
    }

    [Fact]
    public void HelloRetryRequestTranscript_ReplacesClientHello1WithMessageHash()
    {
        // RFC 8446 §4.4.1: Transcript-Hash(CH1, HRR, ...) = Hash(message_hash || 00 00 Hash.length || Hash(CH1) || HRR || ...).
        using TlsTranscript transcript = new();
        transcript.Append(ClientHello);
        transcript.SetHash(TlsCipherSuite.Aes128GcmSha256.Hash());
        transcript.ReplaceWithMessageHash();
        transcript.Append(ServerHello);
        byte[] expected = System.Security.Cryptography.SHA256.HashData(
            [.. (byte[])[254, 0, 0, 32], .. System.Security.Cryptography.SHA256.HashData(ClientHello), .. ServerHello]);
        Assert.Equal(expected, transcript.CurrentHash());
    }
}
