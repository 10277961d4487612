using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>
/// DATAGRAM (RFC 9221 §4): 0x30 without a Length field (data runs to the end of the packet), 0x31 with
/// one. The receiver checks the size against its max_datagram_frame_size (RFC 9221 §3).
/// </summary>
internal readonly ref struct DatagramFrame
{
    public DatagramFrame(ReadOnlySpan<byte> data, bool hasLength = true)
    {
        Data = data;
        HasLength = hasLength;
    }

    public ReadOnlySpan<byte> Data { get; }

    public bool HasLength { get; }

    public static DatagramFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        bool hasLength = frameType == (ulong)FrameType.DatagramWithLength;

        // RFC 9221 §4: type 0x30 has no Length field; the data extends to the end of the packet.
        ReadOnlySpan<byte> data = hasLength ? reader.ReadVarIntPrefixedBytes() : reader.ReadBytes(reader.Remaining);
        return new DatagramFrame(data, hasLength);
    }

    public void Write(ref QuicWriter writer) => Write(ref writer, Data, HasLength);

    /// <summary>Writes a DATAGRAM frame; the data may live in narrower-scoped memory than the writer.</summary>
    public static void Write(ref QuicWriter writer, scoped ReadOnlySpan<byte> data, bool hasLength)
    {
        if (hasLength)
        {
            writer.WriteVarInt((ulong)FrameType.DatagramWithLength);
            writer.WriteVarIntPrefixedBytes(data);
        }
        else
        {
            writer.WriteVarInt((ulong)FrameType.Datagram);
            writer.WriteBytes(data);
        }
    }

    public int GetLength() => 1 + (HasLength ? QuicVarInt.GetLength((ulong)Data.Length) : 0) + Data.Length;
}
