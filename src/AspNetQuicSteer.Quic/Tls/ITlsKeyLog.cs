namespace AspNetQuicSteer.Quic.Tls;

/// <summary>Receives NSS key log lines (the SSLKEYLOGFILE format); implementations must be thread-safe.</summary>
internal interface ITlsKeyLog
{
    void WriteLine(string line);
}
