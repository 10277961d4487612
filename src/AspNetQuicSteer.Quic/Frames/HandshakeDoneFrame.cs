using System.Diagnostics.CodeAnalysis;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>HANDSHAKE_DONE (RFC 9000 §19.20): no fields; only servers send it (the receiver enforces that).</summary>
internal readonly struct HandshakeDoneFrame
{
    public static HandshakeDoneFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        return default;
    }

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Every frame exposes the same instance Write/GetLength shape.")]
    public void Write(ref QuicWriter writer) => writer.WriteVarInt((ulong)FrameType.HandshakeDone);

    [SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Every frame exposes the same instance Write/GetLength shape.")]
    public int GetLength() => 1;
}
