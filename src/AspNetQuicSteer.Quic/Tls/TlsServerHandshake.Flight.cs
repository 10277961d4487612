using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.KeyExchange;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>The server's first flight: ServerHello (Initial), EncryptedExtensions..Finished (Handshake), and the secrets.</summary>
internal sealed partial class TlsServerHandshake
{
    private void SendServerFlight(TlsKeyShareEntry clientShare)
    {
        TlsServerOptions options = _options!;
        TlsCipherSuite suite = CipherSuite!.Value;
        byte[] shared;
        byte[] serverShare;
        using (ITlsKeyExchange exchange = TlsKeyExchangeFactory.Create(NegotiatedGroup!.Value))
        {
            serverShare = exchange.PublicKey;
            shared = exchange.DeriveSharedSecret(clientShare.KeyExchange);
        }

        // RFC 8446 §4.1.3: ServerHello with supported_versions and key_share; session id echoed (empty in QUIC).
        ServerHelloMessage serverHello = new()
        {
            Random = RandomNumberGenerator.GetBytes(TlsConstants.RandomLength),
            LegacySessionIdEcho = _clientHello!.LegacySessionId,
            CipherSuite = (ushort)suite,
            SelectedVersion = TlsConstants.Tls13,
            KeyShare = new TlsKeyShareEntry((ushort)NegotiatedGroup.Value, serverShare),
        };
        byte[] serverHelloBytes = serverHello.Encode();
        _transcript.Append(serverHelloBytes);
        _output.AddData(EncryptionLevel.Initial, serverHelloBytes);

        // RFC 8446 §7.1: handshake secrets over ClientHello..ServerHello. The resumption seam would pass the PSK here.
        _keySchedule = new TlsKeySchedule(suite);
        _keySchedule.DeriveHandshakeSecret(shared);
        CryptographicOperations.ZeroMemory(shared);
        (byte[] clientHs, byte[] serverHs) = _keySchedule.DeriveHandshakeTrafficSecrets(_transcript.CurrentHash());
        _clientHandshakeSecret = clientHs;
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ClientHandshakeTrafficSecret, _clientHello.Random, clientHs);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ServerHandshakeTrafficSecret, _clientHello.Random, serverHs);

        // RFC 9001 §4.1.4: the server installs Handshake read/write keys before sending its Handshake flight.
        _output.AddSecret(EncryptionLevel.Handshake, TlsKeyDirection.Read, suite, clientHs);
        _output.AddSecret(EncryptionLevel.Handshake, TlsKeyDirection.Write, suite, serverHs);

        List<byte[]> flight = [];
        AppendToFlight(flight, new EncryptedExtensionsMessage
        {
            ApplicationProtocol = _alpn,
            TransportParameters = options.TransportParameters.ToArray(),
            ServerNameAcknowledged = _clientHello.ServerName is not null,
        }.Encode());

        if (options.ClientCertificateMode != TlsClientCertificateMode.None)
        {
            // RFC 8446 §4.3.2: empty context during the handshake; signature_algorithms is mandatory.
            AppendToFlight(flight, new CertificateRequestMessage { SignatureAlgorithms = TlsSignatures.Supported }.Encode());
        }

        List<byte[]> chain = [options.Certificate.RawData];
        foreach (X509Certificate2 c in options.CertificateChain ?? [])
        {
            chain.Add(c.RawData);
        }

        AppendToFlight(flight, new CertificateMessage { Certificates = chain }.Encode());

        byte[] content = TlsSignatures.BuildSignedContent(server: true, _transcript.CurrentHash());
        byte[] signature = TlsSignatures.Sign(options.Certificate, _signatureScheme, content);
        AppendToFlight(flight, new CertificateVerifyMessage { Scheme = (ushort)_signatureScheme, Signature = signature }.Encode());

        byte[] verifyData = _keySchedule.ComputeFinishedVerifyData(serverHs, _transcript.CurrentHash());
        AppendToFlight(flight, new FinishedMessage { VerifyData = verifyData }.Encode());

        // RFC 8446 §7.1: application secrets over ClientHello..server Finished.
        _keySchedule.DeriveMasterSecret();
        byte[] transcriptHash = _transcript.CurrentHash();
        (byte[] clientAp, byte[] serverAp) = _keySchedule.DeriveApplicationTrafficSecrets(transcriptHash);
        byte[] exporter = _keySchedule.DeriveExporterMasterSecret(transcriptHash);
        _clientApplicationSecret = clientAp;
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ClientTrafficSecret0, _clientHello.Random, clientAp);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ServerTrafficSecret0, _clientHello.Random, serverAp);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ExporterSecret, _clientHello.Random, exporter);
        ExporterMasterSecret = exporter;

        // RFC 9001 §4.1.4/§5.7: the server may send 1-RTT data right after its Finished (0.5-RTT), but must not
        // read 1-RTT until the client's Finished, so only the write secret is released now.
        _output.AddSecret(EncryptionLevel.OneRtt, TlsKeyDirection.Write, suite, serverAp);
        _output.AddData(EncryptionLevel.Handshake, flight);

        _framer.SwitchLevel(EncryptionLevel.Handshake);
        _state = options.ClientCertificateMode != TlsClientCertificateMode.None ? ServerState.ExpectClientCertificate : ServerState.ExpectClientFinished;
    }

    /// <summary>The exporter master secret (RFC 8446 §7.5), once derived.</summary>
    public byte[]? ExporterMasterSecret { get; private set; }

    private void AppendToFlight(List<byte[]> flight, byte[] message)
    {
        _transcript.Append(message);
        flight.Add(message);
    }
}
