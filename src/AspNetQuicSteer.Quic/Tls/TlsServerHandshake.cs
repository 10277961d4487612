using System.Net.Security;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// TLS 1.3 server for QUIC (RFC 8446, RFC 9001 §4): a sans-IO pump. Flow: ClientHello (Initial) →
/// [HelloRetryRequest, ClientHello2] → ServerHello (Initial) + EncryptedExtensions, [CertificateRequest],
/// Certificate, CertificateVerify, Finished (Handshake) → [client Certificate, CertificateVerify], client
/// Finished (Handshake). Construct without options to choose the certificate after seeing the ClientHello.
/// </summary>
internal sealed partial class TlsServerHandshake : IQuicTlsSession
{
    private readonly TlsHandshakeFramer _framer = new(EncryptionLevel.Initial);
    private readonly TlsOutputQueue _output = new();
    private readonly TlsTranscript _transcript = new();
    private TlsServerOptions? _options;
    private ITlsKeyLog? _keyLog;
    private ServerState _state;
    private TlsAlertException? _failure;

    private ClientHelloMessage? _clientHello;
    private byte[]? _clientHelloBytes;
    private ushort? _retryGroup;
    private TlsKeySchedule? _keySchedule;
    private byte[]? _clientHandshakeSecret;
    private byte[]? _clientApplicationSecret;
    private byte[]? _resumptionMasterSecret;
    private byte[]? _alpn;
    private TlsSignatureScheme _signatureScheme;
    private X509Certificate2? _peerCertificate;

    /// <param name="options">The configuration, or null to wait for <see cref="SetServerConfiguration"/> after the ClientHello.</param>
    public TlsServerHandshake(TlsServerOptions? options = null)
    {
        if (options is not null)
        {
            options.Validate();
            _options = options;
            _keyLog = TlsKeyLog.Resolve(options.KeyLog);
        }
    }

    private enum ServerState
    {
        ExpectClientHello,
        AwaitingConfiguration,
        ExpectSecondClientHello,
        ExpectClientCertificate,
        ExpectClientCertificateVerify,
        ExpectClientFinished,
        Complete,
    }

    public bool IsClient => false;

    /// <summary>RFC 9001 §4.1.1: complete once Finished was sent and the client's Finished verified.</summary>
    public bool IsHandshakeComplete => _state == ServerState.Complete;

    public bool IsAwaitingConfiguration => _state == ServerState.AwaitingConfiguration && _failure is null;

    /// <summary>Set once the ClientHello was read (SNI and offered ALPN for certificate selection).</summary>
    public TlsClientHelloInfo? ClientHelloInfo { get; private set; }

    public ReadOnlyMemory<byte>? PeerTransportParameters => _clientHello?.TransportParameters;

    public string? NegotiatedApplicationProtocol => _alpn is null ? null : System.Text.Encoding.UTF8.GetString(_alpn);

    /// <summary>The negotiated ALPN protocol as raw bytes.</summary>
    public SslApplicationProtocol? ApplicationProtocol => _alpn is null ? null : new SslApplicationProtocol(_alpn);

    public TlsCipherSuite? CipherSuite { get; private set; }

    /// <summary>The key exchange group used (after any HelloRetryRequest).</summary>
    public TlsNamedGroup? NegotiatedGroup { get; private set; }

    /// <summary>True when a HelloRetryRequest was sent.</summary>
    public bool UsedHelloRetryRequest => _retryGroup is not null;

    public string? ServerName => _clientHello?.ServerName;

    /// <summary>The client certificate, when one was requested and sent. Owned by the caller once read.</summary>
    public X509Certificate2? PeerCertificate => _peerCertificate;

    public void Start()
    {
        // The server speaks only after the ClientHello.
    }

    public void ReadHandshake(EncryptionLevel level, ReadOnlySpan<byte> data)
    {
        ThrowIfFailed();
        try
        {
            _framer.Append(level, data);
            Pump();
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    /// <summary>
    /// Supplies the configuration to a server constructed without one. If the ClientHello is already waiting,
    /// the handshake continues and the server flight is queued.
    /// </summary>
    public void SetServerConfiguration(TlsServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (_options is not null)
        {
            throw new InvalidOperationException("The server configuration is already set.");
        }

        ThrowIfFailed();
        _options = options;
        _keyLog = TlsKeyLog.Resolve(options.KeyLog);
        if (_state != ServerState.AwaitingConfiguration)
        {
            return;
        }

        try
        {
            Negotiate();
            Pump();
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    public bool TryGetHandshakeData(out EncryptionLevel level, out ReadOnlyMemory<byte> data) => _output.TryGetData(out level, out data);

    public bool TryGetSecret(out TlsTrafficSecret secret) => _output.TryGetSecret(out secret);

    public void Dispose()
    {
        _transcript.Dispose();
        _keySchedule?.Dispose();
        foreach (byte[]? secret in (ReadOnlySpan<byte[]?>)[_clientHandshakeSecret, _clientApplicationSecret, _resumptionMasterSecret])
        {
            if (secret is not null)
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }
    }

    private void Pump()
    {
        while (_state != ServerState.AwaitingConfiguration && _framer.TryReadMessage(out TlsHandshakeType type, out byte[] message))
        {
            ReadOnlySpan<byte> body = message.AsSpan(TlsConstants.HandshakeHeaderLength);
            switch (_state, type)
            {
                case (ServerState.ExpectClientHello, TlsHandshakeType.ClientHello):
                    OnClientHello(message, body);
                    break;
                case (ServerState.ExpectSecondClientHello, TlsHandshakeType.ClientHello):
                    OnSecondClientHello(message, body);
                    break;
                case (ServerState.ExpectClientCertificate, TlsHandshakeType.Certificate):
                    OnClientCertificate(message, body);
                    break;
                case (ServerState.ExpectClientCertificateVerify, TlsHandshakeType.CertificateVerify):
                    OnClientCertificateVerify(message, body);
                    break;
                case (ServerState.ExpectClientFinished, TlsHandshakeType.Finished):
                    OnClientFinished(message, body);
                    break;
                default:
                    // RFC 8446 §6.2 / RFC 9001 §4.1.3: a message out of order (including EndOfEarlyData, RFC 9001
                    // §8.3, and KeyUpdate, RFC 9001 §6) is unexpected_message.
                    throw new TlsAlertException(TlsAlert.UnexpectedMessage, $"Unexpected {type} in server state {_state}.");
            }
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            throw new TlsAlertException(_failure.Alert, "The handshake already failed: " + _failure.Message, _failure);
        }
    }

    /// <summary>Records the failure; anything but a TLS alert is a local fault and becomes internal_error.</summary>
    private TlsAlertException Fail(Exception e)
    {
        _failure = e as TlsAlertException ?? new TlsAlertException(TlsAlert.InternalError, "Internal TLS failure: " + e.Message, e);
        return _failure;
    }
}
