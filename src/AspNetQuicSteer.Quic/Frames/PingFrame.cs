using System.Diagnostics.CodeAnalysis;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>PING (RFC 9000 §19.2): no fields; ack-eliciting, used to keep alive or probe.</summary>
internal readonly struct PingFrame
{
    public static PingFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return default;
    }

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Every frame exposes the same instance Write/GetLength shape.")]
    public void Write(ref QuicWriter writer) => writer.WriteVarInt((ulong)FrameType.Ping);

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Every frame exposes the same instance Write/GetLength shape.")]
    public int GetLength() => 1;
}
