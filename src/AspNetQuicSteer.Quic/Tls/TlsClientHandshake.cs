using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.KeyExchange;
using AspNetQuicSteer.Quic.Tls.Messages;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// TLS 1.3 client for QUIC (RFC 8446, RFC 9001 §4): a sans-IO pump. Flow: ClientHello (Initial) →
/// [HelloRetryRequest → ClientHello2] → ServerHello (Initial) → EncryptedExtensions, [CertificateRequest],
/// Certificate, CertificateVerify, Finished (Handshake) → [Certificate, CertificateVerify], Finished (Handshake).
/// </summary>
internal sealed partial class TlsClientHandshake : IQuicTlsSession
{
    private readonly TlsClientOptions _options;
    private readonly ITlsKeyLog? _keyLog;
    private readonly TlsHandshakeFramer _framer = new(EncryptionLevel.Initial);
    private readonly TlsOutputQueue _output = new();
    private readonly TlsTranscript _transcript = new();
    private readonly List<ITlsKeyExchange> _keyExchanges = [];
    private ClientState _state;
    private TlsAlertException? _failure;

    private ClientHelloMessage? _hello;
    private ushort? _retrySuite;
    private TlsKeySchedule? _keySchedule;
    private byte[]? _clientHandshakeSecret;
    private byte[]? _serverHandshakeSecret;
    private byte[]? _resumptionMasterSecret;
    private byte[]? _alpn;
    private byte[]? _peerTransportParameters;
    private CertificateRequestMessage? _certificateRequest;
    private X509Certificate2? _peerCertificate;

    public TlsClientHandshake(TlsClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _keyLog = TlsKeyLog.Resolve(options.KeyLog);

        // RFC 6066 §3: literal IPv4/IPv6 addresses are not permitted in server_name.
        ServerName = options.ServerName is { } name && !IPAddress.TryParse(name, out _) ? name : null;
    }

    private enum ClientState
    {
        Start,
        ExpectServerHello,
        ExpectEncryptedExtensions,
        ExpectCertificateOrRequest,
        ExpectCertificate,
        ExpectCertificateVerify,
        ExpectFinished,
        Complete,
    }

    public bool IsClient => true;

    /// <summary>RFC 9001 §4.1.1: complete once the server Finished is verified and ours is queued.</summary>
    public bool IsHandshakeComplete => _state == ClientState.Complete;

    public bool IsAwaitingConfiguration => false;

    public ReadOnlyMemory<byte>? PeerTransportParameters => _peerTransportParameters;

    public string? NegotiatedApplicationProtocol => _alpn is null ? null : System.Text.Encoding.UTF8.GetString(_alpn);

    /// <summary>The negotiated ALPN protocol as raw bytes.</summary>
    public SslApplicationProtocol? ApplicationProtocol => _alpn is null ? null : new SslApplicationProtocol(_alpn);

    public TlsCipherSuite? CipherSuite { get; private set; }

    public TlsNamedGroup? NegotiatedGroup { get; private set; }

    /// <summary>True when the server answered with a HelloRetryRequest.</summary>
    public bool ReceivedHelloRetryRequest => _retrySuite is not null;

    /// <summary>The SNI sent (null for IP literals or when no name was configured).</summary>
    public string? ServerName { get; }

    /// <summary>The validated server certificate. Owned by the caller once read.</summary>
    public X509Certificate2? PeerCertificate => _peerCertificate;

    /// <summary>The exporter master secret (RFC 8446 §7.5), once derived.</summary>
    public byte[]? ExporterMasterSecret { get; private set; }

    /// <summary>NewSessionTicket messages received after the handshake (resumption seam; not stored yet).</summary>
    public int ReceivedTicketCount { get; private set; }

    public void Start()
    {
        if (_state != ClientState.Start)
        {
            throw new InvalidOperationException("The client handshake was already started.");
        }

        try
        {
            SendClientHello();
        }
        catch (Exception e)
        {
            throw Fail(e);
        }
    }

    public void ReadHandshake(EncryptionLevel level, ReadOnlySpan<byte> data)
    {
        if (_failure is not null)
        {
            throw new TlsAlertException(_failure.Alert, "The handshake already failed: " + _failure.Message, _failure);
        }

        try
        {
            if (_state == ClientState.Start)
            {
                // Nothing may arrive before our ClientHello.
                throw new TlsAlertException(TlsAlert.UnexpectedMessage, "Handshake data before the ClientHello was sent.");
            }

            _framer.Append(level, data);
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
        DisposeKeyExchanges();
        _transcript.Dispose();
        _keySchedule?.Dispose();
        foreach (byte[]? secret in (ReadOnlySpan<byte[]?>)[_clientHandshakeSecret, _serverHandshakeSecret, _resumptionMasterSecret])
        {
            if (secret is not null)
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }
    }

    private void Pump()
    {
        while (_framer.TryReadMessage(out TlsHandshakeType type, out byte[] message))
        {
            ReadOnlySpan<byte> body = message.AsSpan(TlsConstants.HandshakeHeaderLength);
            switch (_state, type)
            {
                case (ClientState.ExpectServerHello, TlsHandshakeType.ServerHello):
                    OnServerHello(message, body);
                    break;
                case (ClientState.ExpectEncryptedExtensions, TlsHandshakeType.EncryptedExtensions):
                    OnEncryptedExtensions(message, body);
                    break;
                case (ClientState.ExpectCertificateOrRequest, TlsHandshakeType.CertificateRequest):
                    OnCertificateRequest(message, body);
                    break;
                case (ClientState.ExpectCertificateOrRequest or ClientState.ExpectCertificate, TlsHandshakeType.Certificate):
                    OnCertificate(message, body);
                    break;
                case (ClientState.ExpectCertificateVerify, TlsHandshakeType.CertificateVerify):
                    OnCertificateVerify(message, body);
                    break;
                case (ClientState.ExpectFinished, TlsHandshakeType.Finished):
                    OnFinished(message, body);
                    break;
                case (ClientState.Complete, TlsHandshakeType.NewSessionTicket):
                    // RFC 8446 §4.6.1 (resumption seam): parsed for validity, not stored yet.
                    _ = NewSessionTicketMessage.Decode(body);
                    ReceivedTicketCount++;
                    break;
                default:
                    // RFC 8446 §6.2 / RFC 9001 §4.1.3: out-of-order messages, KeyUpdate (RFC 9001 §6) and
                    // post-handshake CertificateRequest (RFC 9001 §4.4) are unexpected_message.
                    throw new TlsAlertException(TlsAlert.UnexpectedMessage, $"Unexpected {type} in client state {_state}.");
            }
        }
    }

    private void DisposeKeyExchanges()
    {
        foreach (ITlsKeyExchange exchange in _keyExchanges)
        {
            exchange.Dispose();
        }

        _keyExchanges.Clear();
    }

    private TlsAlertException Fail(Exception e)
    {
        _failure = e as TlsAlertException ?? new TlsAlertException(TlsAlert.InternalError, "Internal TLS failure: " + e.Message, e);
        return _failure;
    }
}
