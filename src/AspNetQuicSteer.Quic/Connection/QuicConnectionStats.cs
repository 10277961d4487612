namespace AspNetQuicSteer.Quic.Connection;

/// <summary>Counters of one connection; tests assert on them and metrics read them.</summary>
internal sealed class QuicConnectionStats
{
    public long DatagramsReceived { get; set; }

    public long DatagramsSent { get; set; }

    public long BytesReceived { get; set; }

    public long BytesSent { get; set; }

    public long PacketsReceived { get; set; }

    public long PacketsSent { get; set; }

    /// <summary>Packets dropped before processing: no keys, failed decryption, malformed header (RFC 9000 §12.2).</summary>
    public long PacketsDropped { get; set; }

    public long PacketsLost { get; set; }

    public long ProbeTimeouts { get; set; }

    /// <summary>Times the server stopped sending because of the 3x anti-amplification limit (RFC 9000 §8.1).</summary>
    public long AmplificationLimited { get; set; }

    public long StatelessResetsReceived { get; set; }
}
