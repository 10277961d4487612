using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>NEW_CONNECTION_ID (RFC 9000 §19.15).</summary>
internal readonly ref struct NewConnectionIdFrame
{
    /// <summary>RFC 9000 §19.15: the Stateless Reset Token is 128 bits.</summary>
    public const int StatelessResetTokenLength = 16;

    public NewConnectionIdFrame(ulong sequenceNumber, ulong retirePriorTo, ReadOnlySpan<byte> connectionId, ReadOnlySpan<byte> statelessResetToken)
    {
        if (connectionId.Length is < 1 or > Wire.ConnectionId.MaxLength)
        {
            throw new ArgumentException("NEW_CONNECTION_ID carries a 1 to 20 byte connection ID (RFC 9000 §19.15).", nameof(connectionId));
        }

        if (statelessResetToken.Length != StatelessResetTokenLength)
        {
            throw new ArgumentException("A stateless reset token is 16 bytes.", nameof(statelessResetToken));
        }

        if (retirePriorTo > sequenceNumber)
        {
            throw new ArgumentOutOfRangeException(nameof(retirePriorTo), retirePriorTo, "Retire Prior To cannot exceed the sequence number (RFC 9000 §19.15).");
        }

        SequenceNumber = sequenceNumber;
        RetirePriorTo = retirePriorTo;
        ConnectionId = connectionId;
        StatelessResetToken = statelessResetToken;
    }

    public ulong SequenceNumber { get; }

    public ulong RetirePriorTo { get; }

    public ReadOnlySpan<byte> ConnectionId { get; }

    public ReadOnlySpan<byte> StatelessResetToken { get; }

    public static NewConnectionIdFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ulong sequence = reader.ReadVarInt();
        ulong retirePriorTo = reader.ReadVarInt();

        // RFC 9000 §19.15: Retire Prior To greater than Sequence Number is a FRAME_ENCODING_ERROR.
        if (retirePriorTo > sequence)
        {
            throw QuicProtocolException.FrameEncoding("NEW_CONNECTION_ID Retire Prior To exceeds Sequence Number.", frameType);
        }

        // RFC 9000 §19.15: a Length below 1 or above 20 is a FRAME_ENCODING_ERROR.
        int length = reader.ReadByte();
        if (length is < 1 or > Wire.ConnectionId.MaxLength)
        {
            throw QuicProtocolException.FrameEncoding("NEW_CONNECTION_ID length outside 1..20.", frameType);
        }

        ReadOnlySpan<byte> connectionId = reader.ReadBytes(length);
        ReadOnlySpan<byte> token = reader.ReadBytes(StatelessResetTokenLength);
        return new NewConnectionIdFrame(sequence, retirePriorTo, connectionId, token);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.NewConnectionId);
        writer.WriteVarInt(SequenceNumber);
        writer.WriteVarInt(RetirePriorTo);
        writer.WriteByte((byte)ConnectionId.Length);
        writer.WriteBytes(ConnectionId);
        writer.WriteBytes(StatelessResetToken);
    }

    public int GetLength()
        => 1 + QuicVarInt.GetLength(SequenceNumber) + QuicVarInt.GetLength(RetirePriorTo) + 1 + ConnectionId.Length + StatelessResetTokenLength;
}
