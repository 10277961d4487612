using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>The client's second flight: [Certificate, CertificateVerify], Finished.</summary>
internal sealed partial class TlsServerHandshake
{
    private void OnClientCertificate(byte[] message, ReadOnlySpan<byte> body)
    {
        CertificateMessage certificate = CertificateMessage.Decode(body);

        // RFC 8446 §4.4.2: the context echoes the CertificateRequest's (empty during the handshake).
        if (certificate.RequestContext.Length != 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "Client Certificate has a non-empty request context.");
        }

        _transcript.Append(message);
        if (certificate.Certificates.Count == 0)
        {
            // RFC 8446 §4.4.2.4: an empty client Certificate may be refused with certificate_required.
            if (_options!.ClientCertificateMode == TlsClientCertificateMode.Require)
            {
                throw new TlsAlertException(TlsAlert.CertificateRequired, "A client certificate is required.");
            }

            _state = ServerState.ExpectClientFinished;
            return;
        }

        _peerCertificate = TlsCertificateValidator.Validate(
            certificate.Certificates,
            expectServerAuth: false,
            hostName: null,
            _options!.ClientCertificateTrustedRoots,
            _options.ClientCertificateRevocationMode,
            _options.ClientCertificateValidationCallback);
        _state = ServerState.ExpectClientCertificateVerify;
    }

    private void OnClientCertificateVerify(byte[] message, ReadOnlySpan<byte> body)
    {
        CertificateVerifyMessage verify = CertificateVerifyMessage.Decode(body);

        // RFC 8446 §4.4.3: the scheme must be one offered in our CertificateRequest.
        if (!TlsSignatures.Supported.Contains(verify.Scheme))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"Client signed with unoffered scheme 0x{verify.Scheme:x4}.");
        }

        byte[] content = TlsSignatures.BuildSignedContent(server: false, _transcript.CurrentHash());
        TlsSignatures.Verify(_peerCertificate!, verify.Scheme, content, verify.Signature);
        _transcript.Append(message);
        _state = ServerState.ExpectClientFinished;
    }

    private void OnClientFinished(byte[] message, ReadOnlySpan<byte> body)
    {
        FinishedMessage finished = FinishedMessage.Decode(body, CipherSuite!.Value.HashLength());
        byte[] expected = _keySchedule!.ComputeFinishedVerifyData(_clientHandshakeSecret, _transcript.CurrentHash());

        // RFC 8446 §4.4.4: an incorrect verify_data is decrypt_error.
        if (!CryptographicOperations.FixedTimeEquals(expected, finished.VerifyData))
        {
            throw new TlsAlertException(TlsAlert.DecryptError, "Client Finished verify_data is incorrect.");
        }

        _transcript.Append(message);

        // Resumption seam: tickets (RFC 8446 §4.6.1) would be derived from this secret and sent at 1-RTT.
        _resumptionMasterSecret = _keySchedule.DeriveResumptionMasterSecret(_transcript.CurrentHash());

        // RFC 9001 §5.7: the server reads 1-RTT only once the handshake is complete.
        _output.AddSecret(EncryptionLevel.OneRtt, TlsKeyDirection.Read, CipherSuite.Value, _clientApplicationSecret!);
        _framer.SwitchLevel(EncryptionLevel.OneRtt);
        _state = ServerState.Complete;
    }
}
