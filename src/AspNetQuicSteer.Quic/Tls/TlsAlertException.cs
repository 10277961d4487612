using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// The typed TLS failure. QUIC carries it as CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8); TLS alerts are
/// never sent as records in QUIC.
/// </summary>
internal sealed class TlsAlertException : Exception
{
    public TlsAlertException(TlsAlert alert, string message)
        : base(message)
    {
        Alert = alert;
    }

    public TlsAlertException(TlsAlert alert, string message, Exception innerException)
        : base(message, innerException)
    {
        Alert = alert;
    }

    public TlsAlertException()
        : this(TlsAlert.InternalError, "TLS handshake failure.")
    {
    }

    public TlsAlertException(string message)
        : this(TlsAlert.InternalError, message)
    {
    }

    public TlsAlertException(string message, Exception innerException)
        : this(TlsAlert.InternalError, message, innerException)
    {
    }

    public TlsAlert Alert { get; }

    /// <summary>RFC 9001 §4.8: CRYPTO_ERROR is 0x0100 plus the alert description.</summary>
    public TransportErrorCode TransportErrorCode => TransportErrorCode.CryptoErrorBase + (ulong)Alert;
}
