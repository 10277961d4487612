namespace AspNetQuicSteer.Sockets;

/// <summary>Construction options for <see cref="BatchedUdpSocket"/>.</summary>
internal sealed class BatchedUdpSocketOptions
{
    /// <summary>Use the portable one-datagram-per-call path even where the native batched path is available.</summary>
    public bool ForcePortable { get; init; }

    /// <summary>Coalesce same-destination, same-size runs into UDP_SEGMENT (GSO) sends when the kernel supports it.</summary>
    public bool EnableGso { get; init; } = true;

    /// <summary>
    /// Ask the kernel to coalesce received datagrams (UDP_GRO). Receive batches then need
    /// <see cref="DatagramBatch.GroSlotSize"/>-byte slots, and callers must split slots into segments.
    /// </summary>
    public bool EnableGro { get; init; }

    /// <summary>Report each datagram's destination address (IP_PKTINFO / IPV6_RECVPKTINFO).</summary>
    public bool ReceivePacketInformation { get; init; } = true;
}
