using System.Net;

namespace AspNetQuicSteer.Sockets;

/// <summary>Construction options for <see cref="QuicEndpointDriver"/>.</summary>
internal sealed class QuicEndpointDriverOptions
{
    /// <summary>Clock for the endpoint's timers: the driver passes time elapsed since construction.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Slots per receive batch (datagrams per recvmmsg). With UDP_GRO each slot is 64 KiB.</summary>
    public int ReceiveBatchCapacity { get; init; } = DatagramBatch.DefaultCapacity;

    /// <summary>
    /// Bytes per receive slot when the socket does not use GRO. Larger datagrams are truncated by the kernel and
    /// dropped by the driver (counted in <see cref="QuicEndpointDriver.TruncatedDatagrams"/>).
    /// </summary>
    public int ReceiveSlotSize { get; init; } = 2048;

    /// <summary>Slots per send batch (datagrams per sendmmsg, before GSO coalescing).</summary>
    public int SendBatchCapacity { get; init; } = DatagramBatch.DefaultCapacity;

    /// <summary>Bytes per send slot: the largest datagram the endpoint may write (RFC 9000 §14).</summary>
    public int SendSlotSize { get; init; } = DatagramBatch.DefaultSlotSize;

    /// <summary>
    /// Longest single wait when neither a datagram, a timer nor a wake-up is due: only a safety bound and the idle
    /// wake-up rate. Posted work, <see cref="QuicEndpointDriver.Wake"/>, <see cref="QuicEndpointDriver.StopAsync"/>
    /// and Dispose interrupt the wait at once through the driver's wake-up descriptor, so their latency does not
    /// depend on this value.
    /// </summary>
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Sees every received datagram before the endpoint does and may take it (return true), e.g. to forward a packet
    /// that belongs to another process sharing the port. Runs on the loop thread; must not block.
    /// </summary>
    public DatagramDivert? Divert { get; init; }
}

/// <summary>
/// A look at one received datagram before the endpoint: <paramref name="localAddress"/> is the raw address the peer
/// sent to (4 or 16 bytes; empty unless the socket reports it, IP_PKTINFO on a wildcard bind). True takes the datagram.
/// </summary>
internal delegate bool DatagramDivert(ReadOnlySpan<byte> datagram, IPEndPoint remote, ReadOnlySpan<byte> localAddress);
