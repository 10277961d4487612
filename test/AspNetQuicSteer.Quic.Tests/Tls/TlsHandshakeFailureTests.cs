using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.Tls.KeyExchange;
using AspNetQuicSteer.Quic.Tls.Messages;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tests.Tls;

/// <summary>Every failure surfaces as a TlsAlertException with the RFC-mandated alert.</summary>
public sealed class TlsHandshakeFailureTests
{
    private static TlsAlert RunExpectingAlert(TlsClientOptions clientOptions, TlsServerOptions serverOptions)
    {
        using TlsClientHandshake client = new(clientOptions);
        using TlsServerHandshake server = new(serverOptions);
        return Assert.Throws<TlsAlertException>(() => new TlsTestPump().Run(client, server)).Alert;
    }

    [Fact]
    public void UntrustedRoot_UnknownCa()
    {
        // RFC 8446 §6.2: unknown_ca when the chain does not lead to a trusted root.
        Assert.Equal(TlsAlert.UnknownCa, RunExpectingAlert(TlsTestPump.ClientOptions(trustedRoot: TlsTestCertificates.UnrelatedRoot), TlsTestPump.ServerOptions()));
    }

    [Fact]
    public void ChainWithoutIntermediate_UnknownCa()
    {
        (X509Certificate2 leaf, _, X509Certificate2 root) = TlsTestCertificates.Chain;
        Assert.Equal(TlsAlert.UnknownCa, RunExpectingAlert(TlsTestPump.ClientOptions(trustedRoot: root, serverName: "chain.test"), TlsTestPump.ServerOptions(certificate: leaf)));
    }

    [Fact]
    public void WrongHostName_BadCertificate()
    {
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions(serverName: "example.org"));
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => new TlsTestPump().Run(client, server));
        Assert.Equal(TlsAlert.BadCertificate, e.Alert);
        Assert.Contains("example.org", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExpiredCertificate_CertificateExpired()
    {
        X509Certificate2 expired = TlsTestCertificates.Expired;
        Assert.Equal(TlsAlert.CertificateExpired, RunExpectingAlert(TlsTestPump.ClientOptions(trustedRoot: expired), TlsTestPump.ServerOptions(certificate: expired)));
    }

    [Fact]
    public void ValidationCallback_CanAcceptAndReject()
    {
        SslPolicyErrors seen = SslPolicyErrors.None;
        TlsClientOptions accepting = new()
        {
            ServerName = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http3],
            TransportParameters = TlsTestPump.ClientTransportParameters,
            CertificateValidationCallback = (_, _, errors) =>
            {
                seen = errors;
                return true;
            },
        };
        using (TlsClientHandshake client = new(accepting))
        using (TlsServerHandshake server = new(TlsTestPump.ServerOptions()))
        {
            new TlsTestPump().Run(client, server);
            Assert.True(client.IsHandshakeComplete);
            Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, seen); // self-signed, system trust
        }

        TlsClientOptions rejecting = new()
        {
            ServerName = "localhost",
            ApplicationProtocols = [SslApplicationProtocol.Http3],
            TransportParameters = TlsTestPump.ClientTransportParameters,
            TrustedRootCertificates = [TlsTestCertificates.EcdsaP256],
            CertificateValidationCallback = (_, _, _) => false,
        };
        Assert.Equal(TlsAlert.BadCertificate, RunExpectingAlert(rejecting, TlsTestPump.ServerOptions()));
    }

    [Fact]
    public void AlpnMismatch_NoApplicationProtocol()
    {
        // RFC 9001 §8.1: no_application_protocol when ALPN cannot be agreed.
        Assert.Equal(TlsAlert.NoApplicationProtocol, RunExpectingAlert(TlsTestPump.ClientOptions(alpn: "h3"), TlsTestPump.ServerOptions(alpn: "hq-interop")));
    }

    [Fact]
    public void NoCommonSuite_HandshakeFailure()
    {
        Assert.Equal(TlsAlert.HandshakeFailure, RunExpectingAlert(
            TlsTestPump.ClientOptions(suites: [TlsCipherSuite.Aes128GcmSha256]),
            TlsTestPump.ServerOptions(suites: [TlsCipherSuite.ChaCha20Poly1305Sha256])));
    }

    [Fact]
    public void NoCommonGroup_HandshakeFailure()
    {
        Assert.Equal(TlsAlert.HandshakeFailure, RunExpectingAlert(
            TlsTestPump.ClientOptions(keyShares: [TlsNamedGroup.X25519], supportedGroups: [TlsNamedGroup.X25519]),
            TlsTestPump.ServerOptions(groups: [TlsNamedGroup.Secp256r1])));
    }

    private static ClientHelloMessage ValidHello(Func<ClientHelloMessage, ClientHelloMessage>? change = null, TlsNamedGroup group = TlsNamedGroup.X25519)
    {
        using ITlsKeyExchange exchange = TlsKeyExchangeFactory.Create(group);
        ClientHelloMessage hello = new()
        {
            Random = new byte[32],
            CipherSuites = [0x1301],
            ServerName = "localhost",
            SupportedGroups = [0x001D, 0x0017],
            SignatureAlgorithms = TlsSignatures.Supported,
            KeyShares = [new TlsKeyShareEntry((ushort)group, exchange.PublicKey)],
            SupportedVersions = [0x0304],
            ApplicationProtocols = ["h3"u8.ToArray()],
            TransportParameters = [1, 2, 3],
        };
        return change?.Invoke(hello) ?? hello;
    }

    private static TlsAlert ServerAlertFor(byte[] clientHello, EncryptionLevel level = EncryptionLevel.Initial)
    {
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        return Assert.Throws<TlsAlertException>(() => server.ReadHandshake(level, clientHello)).Alert;
    }

    private static ClientHelloMessage With(ClientHelloMessage h, byte[]? transportParameters = null, byte[]? sessionId = null, IReadOnlyList<TlsKeyShareEntry>? keyShares = null, ushort[]? versions = null, bool dropTp = false, bool dropAlpn = false, bool dropSigAlgs = false)
        => new()
        {
            Random = h.Random,
            LegacySessionId = sessionId ?? h.LegacySessionId,
            CipherSuites = h.CipherSuites,
            ServerName = h.ServerName,
            SupportedGroups = h.SupportedGroups,
            SignatureAlgorithms = dropSigAlgs ? null : h.SignatureAlgorithms,
            KeyShares = keyShares ?? h.KeyShares,
            SupportedVersions = versions ?? h.SupportedVersions,
            ApplicationProtocols = dropAlpn ? null : h.ApplicationProtocols,
            TransportParameters = dropTp ? null : transportParameters ?? h.TransportParameters,
        };

    [Fact]
    public void ValidHandcraftedClientHello_IsAccepted()
    {
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        server.ReadHandshake(EncryptionLevel.Initial, ValidHello().Encode());
        Assert.True(server.TryGetHandshakeData(out EncryptionLevel level, out _));
        Assert.Equal(EncryptionLevel.Initial, level);
    }

    [Fact]
    public void MissingTransportParameters_MissingExtension()
        => Assert.Equal(TlsAlert.MissingExtension, ServerAlertFor(With(ValidHello(), dropTp: true).Encode())); // RFC 9001 §8.2

    [Fact]
    public void MissingAlpn_NoApplicationProtocol()
        => Assert.Equal(TlsAlert.NoApplicationProtocol, ServerAlertFor(With(ValidHello(), dropAlpn: true).Encode())); // RFC 9001 §8.1

    [Fact]
    public void MissingSignatureAlgorithms_MissingExtension()
        => Assert.Equal(TlsAlert.MissingExtension, ServerAlertFor(With(ValidHello(), dropSigAlgs: true).Encode())); // RFC 8446 §9.2

    [Fact]
    public void NonEmptyLegacySessionId_IllegalParameter()
        => Assert.Equal(TlsAlert.IllegalParameter, ServerAlertFor(With(ValidHello(), sessionId: [1, 2, 3]).Encode())); // RFC 9001 §8.4

    [Fact]
    public void NoTls13InSupportedVersions_ProtocolVersion()
        => Assert.Equal(TlsAlert.ProtocolVersion, ServerAlertFor(With(ValidHello(), versions: [0x0303]).Encode())); // RFC 8446 §4.2.1

    [Fact]
    public void AllZeroX25519Share_IllegalParameter()
    {
        // RFC 8446 §7.4.2 / RFC 7748 §6.1: a low-order point gives an all-zero secret → abort.
        byte[] hello = With(ValidHello(), keyShares: [new TlsKeyShareEntry(0x001D, new byte[32])]).Encode();
        Assert.Equal(TlsAlert.IllegalParameter, ServerAlertFor(hello));
    }

    [Fact]
    public void P256ShareNotOnCurve_IllegalParameter()
    {
        // RFC 8446 §4.2.8.2: peers validate the received point.
        byte[] point = new byte[65];
        point[0] = 4;
        point[1] = 1;
        point[64] = 1;
        using NistEcdhKeyExchange exchange = new(TlsNamedGroup.Secp256r1);
        Assert.Equal(TlsAlert.IllegalParameter, Assert.Throws<TlsAlertException>(() => exchange.DeriveSharedSecret(point)).Alert);
        point[0] = 2; // compressed form is not allowed in TLS 1.3
        Assert.Equal(TlsAlert.IllegalParameter, Assert.Throws<TlsAlertException>(() => exchange.DeriveSharedSecret(point.AsSpan(0, 33))).Alert);
    }

    [Fact]
    public void ClientHelloAtHandshakeLevel_UnexpectedMessage()
        => Assert.Equal(TlsAlert.UnexpectedMessage, ServerAlertFor(ValidHello().Encode(), EncryptionLevel.Handshake)); // RFC 9001 §4.1.3

    [Fact]
    public void FinishedAtInitial_UnexpectedMessage()
        => Assert.Equal(TlsAlert.UnexpectedMessage, ServerAlertFor(new FinishedMessage { VerifyData = new byte[32] }.Encode()));

    [Fact]
    public void EndOfEarlyDataAndKeyUpdate_UnexpectedMessage()
    {
        // RFC 9001 §8.3: EndOfEarlyData is never used; RFC 9001 §6: KeyUpdate is forbidden.
        Assert.Equal(TlsAlert.UnexpectedMessage, ServerAlertFor([5, 0, 0, 0]));
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        new TlsTestPump().Run(client, server);
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => client.ReadHandshake(EncryptionLevel.OneRtt, [24, 0, 0, 1, 0]));
        Assert.Equal(TlsAlert.UnexpectedMessage, e.Alert);
        Assert.Equal(TlsAlert.UnexpectedMessage, Assert.Throws<TlsAlertException>(() => server.ReadHandshake(EncryptionLevel.OneRtt, [24, 0, 0, 1, 0])).Alert);
    }

    [Fact]
    public void TrailingInitialDataAfterClientHello_UnexpectedMessage()
    {
        // RFC 8446 §5.1: handshake messages must not span a key change.
        byte[] hello = ValidHello().Encode();
        Assert.Equal(TlsAlert.UnexpectedMessage, ServerAlertFor([.. hello, 1, 0]));
    }

    [Fact]
    public void DuplicateExtension_IllegalParameter()
    {
        // RFC 8446 §4.2: no two extensions of the same type.
        byte[] hello = ValidHello().Encode();
        byte[] withDuplicate = AppendExtension(hello, [0x00, 0x39, 0x00, 0x01, 0x07]);
        Assert.Equal(TlsAlert.IllegalParameter, ServerAlertFor(withDuplicate));
    }

    [Fact]
    public void PreSharedKeyNotLast_IllegalParameter()
    {
        // RFC 8446 §4.2.11: pre_shared_key must be the last extension.
        byte[] psk = [0x00, 0x29, 0x00, 0x2F, 0x00, 0x0A, 0x00, 0x04, 1, 2, 3, 4, 0, 0, 0, 0, 0x00, 0x21, 0x20, .. new byte[32]];
        byte[] hello = AppendExtension(ValidHello().Encode(), psk);
        byte[] pskThenUnknown = AppendExtension(hello, [0xFA, 0xFA, 0x00, 0x00]);
        Assert.Equal(TlsAlert.IllegalParameter, ServerAlertFor(pskThenUnknown));
    }

    [Fact]
    public void GreaseExtensionsAreIgnored()
    {
        // RFC 8701: unknown (GREASE) extensions in ClientHello are ignored.
        byte[] hello = AppendExtension(ValidHello().Encode(), [0x0A, 0x0A, 0x00, 0x01, 0x00]);
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        server.ReadHandshake(EncryptionLevel.Initial, hello);
        Assert.True(server.TryGetHandshakeData(out _, out _));
    }

    [Fact]
    public void SecondClientHelloStillWrongGroup_IllegalParameter()
    {
        // RFC 8446 §4.1.4/§4.2.8: after HRR for P-256, a second hello with an X25519 share is illegal_parameter.
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(groups: [TlsNamedGroup.Secp256r1]));
        ClientHelloMessage first = ValidHello();
        server.ReadHandshake(EncryptionLevel.Initial, first.Encode());
        Assert.True(server.TryGetHandshakeData(out _, out ReadOnlyMemory<byte> retry));
        Assert.True(ServerHelloMessage.Decode(retry.Span[4..]).IsHelloRetryRequest);
        TlsAlertException e = Assert.Throws<TlsAlertException>(() => server.ReadHandshake(EncryptionLevel.Initial, first.Encode()));
        Assert.Equal(TlsAlert.IllegalParameter, e.Alert);
    }

    [Fact]
    public void SecondClientHelloChangingAlpn_IllegalParameter()
    {
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions(groups: [TlsNamedGroup.Secp256r1]));
        server.ReadHandshake(EncryptionLevel.Initial, ValidHello().Encode());
        ClientHelloMessage changed = ValidHello(group: TlsNamedGroup.Secp256r1);
        changed = new ClientHelloMessage
        {
            Random = changed.Random,
            CipherSuites = changed.CipherSuites,
            ServerName = changed.ServerName,
            SupportedGroups = changed.SupportedGroups,
            SignatureAlgorithms = changed.SignatureAlgorithms,
            KeyShares = changed.KeyShares,
            SupportedVersions = changed.SupportedVersions,
            ApplicationProtocols = ["hq-interop"u8.ToArray()],
            TransportParameters = changed.TransportParameters,
        };
        Assert.Equal(TlsAlert.IllegalParameter, Assert.Throws<TlsAlertException>(() => server.ReadHandshake(EncryptionLevel.Initial, changed.Encode())).Alert);
    }

    [Fact]
    public void TamperedServerFinished_DecryptError()
    {
        // RFC 8446 §4.4.4: a wrong verify_data is decrypt_error.
        using TlsClientHandshake client = new(TlsTestPump.ClientOptions());
        using TlsServerHandshake server = new(TlsTestPump.ServerOptions());
        client.Start();
        client.TryGetHandshakeData(out EncryptionLevel l, out ReadOnlyMemory<byte> ch);
        server.ReadHandshake(l, ch.Span);
        server.TryGetHandshakeData(out EncryptionLevel shLevel, out ReadOnlyMemory<byte> sh);
        server.TryGetHandshakeData(out EncryptionLevel flightLevel, out ReadOnlyMemory<byte> flight);
        client.ReadHandshake(shLevel, sh.Span);
        byte[] tampered = flight.ToArray();
        tampered[^1] ^= 0x80;
        Assert.Equal(TlsAlert.DecryptError, Assert.Throws<TlsAlertException>(() => client.ReadHandshake(flightLevel, tampered)).Alert);

        // A failed session keeps failing with the same alert.
        Assert.Equal(TlsAlert.DecryptError, Assert.Throws<TlsAlertException>(() => client.ReadHandshake(flightLevel, [1])).Alert);
    }

    [Fact]
    public void HelloRetryRequestRandomIsRecognised()
    {
        // RFC 8446 §4.1.3: HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest").
        Assert.Equal(System.Security.Cryptography.SHA256.HashData("HelloRetryRequest"u8), TlsConstants.HelloRetryRequestRandom.ToArray());
        ServerHelloMessage sh = ServerHelloMessage.Decode(Rfc8448Vectors.ServerHello.AsSpan(4));
        Assert.False(sh.IsHelloRetryRequest);
        Assert.Equal(Rfc8448Vectors.ServerHello, sh.Encode());
    }

    [Fact]
    public void Rfc8448MessagesDecodeAndRoundTrip()
    {
        ClientHelloMessage hello = ClientHelloMessage.Decode(Rfc8448Vectors.ClientHello.AsSpan(4));
        Assert.Equal("server", hello.ServerName);
        Assert.Equal([0x001D, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104], hello.SupportedGroups);
        Assert.Equal(Rfc8448Vectors.ClientPublicKey, hello.KeyShares!.Single().KeyExchange);

        NewSessionTicketMessage ticket = NewSessionTicketMessage.Decode(Rfc8448Vectors.NewSessionTicket.AsSpan(4));
        Assert.Equal(30u, ticket.Lifetime);
        Assert.Equal(new byte[] { 0, 0 }, ticket.Nonce);
        Assert.Equal(0x400u, ticket.MaxEarlyDataSize);
        Assert.Equal(Rfc8448Vectors.NewSessionTicket, ticket.Encode());

        CertificateMessage certificate = CertificateMessage.Decode(Rfc8448Vectors.Certificate.AsSpan(4));
        Assert.Equal(Rfc8448Vectors.Certificate, certificate.Encode());
        Assert.Equal(Rfc8448Vectors.CertificateVerify, CertificateVerifyMessage.Decode(Rfc8448Vectors.CertificateVerify.AsSpan(4)).Encode());

        // RFC 8446 §4.2: record_size_limit in EncryptedExtensions was never sent by our client → unsupported_extension.
        Assert.Equal(TlsAlert.UnsupportedExtension, Assert.Throws<TlsAlertException>(() => EncryptedExtensionsMessage.Decode(Rfc8448Vectors.EncryptedExtensions.AsSpan(4))).Alert);
    }

    /// <summary>Appends an encoded extension to a ClientHello, fixing the message and block lengths.</summary>
    private static byte[] AppendExtension(byte[] hello, byte[] extension)
    {
        byte[] result = [.. hello, .. extension];
        int length = result.Length - 4;
        result[1] = (byte)(length >> 16);
        result[2] = (byte)(length >> 8);
        result[3] = (byte)length;

        // Extensions block length sits after version(2) random(32) session_id(1+n) suites(2+n) compression(1+n).
        int p = 4 + 2 + 32;
        p += 1 + result[p];
        p += 2 + (result[p] << 8 | result[p + 1]);
        p += 1 + result[p];
        int blockLength = (result[p] << 8 | result[p + 1]) + extension.Length;
        result[p] = (byte)(blockLength >> 8);
        result[p + 1] = (byte)blockLength;
        return result;
    }
}
