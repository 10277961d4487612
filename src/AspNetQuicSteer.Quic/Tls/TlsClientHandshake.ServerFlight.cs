using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>EncryptedExtensions, CertificateRequest, Certificate, CertificateVerify, Finished from the server; our Finished.</summary>
internal sealed partial class TlsClientHandshake
{
    private void OnEncryptedExtensions(byte[] message, ReadOnlySpan<byte> body)
    {
        EncryptedExtensionsMessage extensions = EncryptedExtensionsMessage.Decode(body);

        // RFC 8446 §4.2: responses to extensions we did not send are unsupported_extension.
        if (extensions.ServerNameAcknowledged && ServerName is null)
        {
            throw new TlsAlertException(TlsAlert.UnsupportedExtension, "server_name acknowledged but not sent.");
        }

        if (extensions.EarlyDataAccepted)
        {
            throw new TlsAlertException(TlsAlert.UnsupportedExtension, "early_data accepted but not offered.");
        }

        // RFC 9001 §8.1: no negotiated application protocol → no_application_protocol.
        if (extensions.ApplicationProtocol is not { } alpn)
        {
            throw new TlsAlertException(TlsAlert.NoApplicationProtocol, "The server selected no ALPN protocol.");
        }

        // RFC 7301 §3.2: the server must pick one of the offered protocols.
        if (!_hello!.ApplicationProtocols!.Any(p => p.AsSpan().SequenceEqual(alpn)))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "The server selected an ALPN protocol that was not offered.");
        }

        // RFC 9001 §8.2: missing quic_transport_parameters → missing_extension.
        if (extensions.TransportParameters is null)
        {
            throw new TlsAlertException(TlsAlert.MissingExtension, "The server sent no quic_transport_parameters.");
        }

        _alpn = alpn;
        _peerTransportParameters = extensions.TransportParameters;
        _transcript.Append(message);
        _state = ClientState.ExpectCertificateOrRequest;
    }

    private void OnCertificateRequest(byte[] message, ReadOnlySpan<byte> body)
    {
        CertificateRequestMessage request = CertificateRequestMessage.Decode(body);

        // RFC 8446 §4.3.2: the context is empty unless used for post-handshake authentication.
        if (request.RequestContext.Length != 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "CertificateRequest context must be empty during the handshake.");
        }

        _certificateRequest = request;
        _transcript.Append(message);
        _state = ClientState.ExpectCertificate;
    }

    private void OnCertificate(byte[] message, ReadOnlySpan<byte> body)
    {
        CertificateMessage certificate = CertificateMessage.Decode(body);

        // RFC 8446 §4.4.2: for server authentication the context is zero length.
        if (certificate.RequestContext.Length != 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "Server Certificate has a non-empty request context.");
        }

        // RFC 8446 §4.4.2.4: an empty server Certificate is decode_error.
        if (certificate.Certificates.Count == 0)
        {
            throw new TlsAlertException(TlsAlert.DecodeError, "The server sent an empty Certificate.");
        }

        _peerCertificate = TlsCertificateValidator.Validate(
            certificate.Certificates,
            expectServerAuth: true,
            _options.ServerName,
            _options.TrustedRootCertificates,
            _options.RevocationMode,
            _options.CertificateValidationCallback);
        _transcript.Append(message);
        _state = ClientState.ExpectCertificateVerify;
    }

    private void OnCertificateVerify(byte[] message, ReadOnlySpan<byte> body)
    {
        CertificateVerifyMessage verify = CertificateVerifyMessage.Decode(body);

        // RFC 8446 §4.4.3: the scheme must be one we offered in signature_algorithms.
        if (!_hello!.SignatureAlgorithms!.Contains(verify.Scheme))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"The server signed with unoffered scheme 0x{verify.Scheme:x4}.");
        }

        byte[] content = TlsSignatures.BuildSignedContent(server: true, _transcript.CurrentHash());
        TlsSignatures.Verify(_peerCertificate!, verify.Scheme, content, verify.Signature);
        _transcript.Append(message);
        _state = ClientState.ExpectFinished;
    }

    private void OnFinished(byte[] message, ReadOnlySpan<byte> body)
    {
        TlsCipherSuite suite = CipherSuite!.Value;
        FinishedMessage finished = FinishedMessage.Decode(body, suite.HashLength());
        byte[] expected = _keySchedule!.ComputeFinishedVerifyData(_serverHandshakeSecret, _transcript.CurrentHash());

        // RFC 8446 §4.4.4: an incorrect verify_data is decrypt_error.
        if (!CryptographicOperations.FixedTimeEquals(expected, finished.VerifyData))
        {
            throw new TlsAlertException(TlsAlert.DecryptError, "Server Finished verify_data is incorrect.");
        }

        _transcript.Append(message);

        // RFC 8446 §7.1: application secrets over ClientHello..server Finished.
        _keySchedule.DeriveMasterSecret();
        byte[] transcriptHash = _transcript.CurrentHash();
        (byte[] clientAp, byte[] serverAp) = _keySchedule.DeriveApplicationTrafficSecrets(transcriptHash);
        ExporterMasterSecret = _keySchedule.DeriveExporterMasterSecret(transcriptHash);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ClientTrafficSecret0, _hello!.Random, clientAp);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ServerTrafficSecret0, _hello.Random, serverAp);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ExporterSecret, _hello.Random, ExporterMasterSecret);

        // RFC 9001 §4.1.4: 1-RTT keys, then our Finished at the Handshake level.
        _output.AddSecret(EncryptionLevel.OneRtt, TlsKeyDirection.Read, suite, serverAp);
        _output.AddSecret(EncryptionLevel.OneRtt, TlsKeyDirection.Write, suite, clientAp);

        List<byte[]> flight = [];
        if (_certificateRequest is not null)
        {
            AppendClientCertificate(flight, _certificateRequest);
        }

        byte[] verifyData = _keySchedule.ComputeFinishedVerifyData(_clientHandshakeSecret, _transcript.CurrentHash());
        byte[] ourFinished = new FinishedMessage { VerifyData = verifyData }.Encode();
        _transcript.Append(ourFinished);
        flight.Add(ourFinished);
        _output.AddData(EncryptionLevel.Handshake, flight);

        // Resumption seam: tickets arriving at 1-RTT would be turned into PSKs with this secret.
        _resumptionMasterSecret = _keySchedule.DeriveResumptionMasterSecret(_transcript.CurrentHash());
        _framer.SwitchLevel(EncryptionLevel.OneRtt);
        _state = ClientState.Complete;
    }

    /// <summary>
    /// RFC 8446 §4.4.2: answers a CertificateRequest with our certificate, or an empty Certificate when we have
    /// none usable with the requested signature algorithms (then no CertificateVerify, §4.4.3).
    /// </summary>
    private void AppendClientCertificate(List<byte[]> flight, CertificateRequestMessage request)
    {
        X509Certificate2? certificate = _options.ClientCertificate;
        TlsSignatureScheme? scheme = certificate is { HasPrivateKey: true } ? TlsSignatures.Select(certificate, request.SignatureAlgorithms) : null;
        List<byte[]> chain = [];
        if (scheme is not null)
        {
            chain.Add(certificate!.RawData);
            foreach (X509Certificate2 c in _options.ClientCertificateChain ?? [])
            {
                chain.Add(c.RawData);
            }
        }

        byte[] certificateMessage = new CertificateMessage { RequestContext = request.RequestContext, Certificates = chain }.Encode();
        _transcript.Append(certificateMessage);
        flight.Add(certificateMessage);
        if (scheme is { } s)
        {
            byte[] content = TlsSignatures.BuildSignedContent(server: false, _transcript.CurrentHash());
            byte[] verify = new CertificateVerifyMessage { Scheme = (ushort)s, Signature = TlsSignatures.Sign(certificate!, s, content) }.Encode();
            _transcript.Append(verify);
            flight.Add(verify);
        }
    }
}
