namespace AspNetQuicSteer.Quic.Recovery.Congestion;

/// <summary>
/// Congestion control of one path (RFC 9002 §7), a seam like quinn's <c>Controller</c>: the connection reports
/// in-flight packets being sent, acknowledged, lost or discarded; the controller answers how many bytes may be
/// in flight and when the pacer allows the next packet. Sans-IO: time comes in as arguments.
/// </summary>
internal interface ICongestionController
{
    /// <summary>Current congestion window in bytes.</summary>
    long CongestionWindow { get; }

    /// <summary>Bytes of in-flight packets (RFC 9002 §B.2 bytes_in_flight) as reported by the connection.</summary>
    long BytesInFlight { get; }

    /// <summary>Bytes that may still be sent now without exceeding the window.</summary>
    long AvailableWindow { get; }

    /// <summary>
    /// RFC 9002 §7.8 / RFC 9438 §5.8: the sender is application-limited (or flow-control-limited), so the window is
    /// not being used and acknowledgments must not grow it. The connection sets it to <see langword="true"/> when a
    /// send pass ends because it has nothing (allowed) to send while the window still has room, and to
    /// <see langword="false"/> when a pass ends because of the window or the pacer (pacing delay is not
    /// application-limiting, §7.8). The controller clears it itself once bytes in flight reach the window.
    /// </summary>
    bool IsApplicationLimited { get; set; }

    /// <summary>An in-flight (ack-eliciting or padded) packet was sent (RFC 9002 §A.5 / §B.4).</summary>
    void OnPacketSent(TimeSpan now, int bytes);

    /// <summary>An in-flight packet sent at <paramref name="timeSent"/> was newly acknowledged (RFC 9002 §B.5).</summary>
    void OnPacketAcknowledged(TimeSpan now, TimeSpan timeSent, int bytes, RttEstimator rtt);

    /// <summary>
    /// Packets were declared lost in one detection pass (RFC 9002 §B.8): their total size, the send time of the
    /// newest lost packet (one congestion event per round trip, §7.3.2), and whether they establish persistent
    /// congestion (§7.6).
    /// </summary>
    void OnPacketsLost(TimeSpan now, int lostBytes, TimeSpan newestLostTimeSent, bool persistentCongestion);

    /// <summary>Keys of a packet number space were discarded: forget its packets without reacting (RFC 9002 §6.4).</summary>
    void OnPacketsDiscarded(int bytes);

    /// <summary>ECN-CE reported for a packet sent at <paramref name="timeSent"/> (RFC 9002 §7.1, §B.7).</summary>
    void OnCongestionExperienced(TimeSpan now, TimeSpan timeSent);

    /// <summary>
    /// RFC 9002 §7.7: the earliest time the next packet of <paramref name="bytes"/> may leave, or <paramref name="now"/>
    /// when it may leave at once. Pacing spreads a window over a round trip instead of bursting it.
    /// </summary>
    TimeSpan NextSendTime(TimeSpan now, int bytes, RttEstimator rtt);

    /// <summary>The path's maximum datagram size changed (PMTU discovery, RFC 9000 §14.3).</summary>
    void OnMaxDatagramSizeChanged(int maxDatagramSize);
}

/// <summary>Creates a controller per path (quinn's <c>ControllerFactory</c>).</summary>
internal interface ICongestionControllerFactory
{
    ICongestionController Create(TimeSpan now, int maxDatagramSize);
}
