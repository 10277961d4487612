namespace AspNetQuicSteer.Quic.Frames;

/// <summary>An inclusive range of acknowledged packet numbers, Smallest &lt;= Largest.</summary>
internal readonly record struct AckRange(ulong Smallest, ulong Largest);

/// <summary>RFC 9000 §19.3.2: the ECN counters carried by an ACK frame of type 0x03.</summary>
internal readonly record struct EcnCounts(ulong Ect0, ulong Ect1, ulong Ce);
