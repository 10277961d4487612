using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Frames;

/// <summary>NEW_TOKEN (RFC 9000 §19.7): an address validation token for future connections.</summary>
internal readonly ref struct NewTokenFrame
{
    public NewTokenFrame(ReadOnlySpan<byte> token)
    {
        if (token.IsEmpty)
        {
            throw new ArgumentException("A NEW_TOKEN token cannot be empty (RFC 9000 §19.7).", nameof(token));
        }

        Token = token;
    }

    public ReadOnlySpan<byte> Token { get; }

    public static NewTokenFrame Parse(scoped ref QuicReader reader, ulong frameType)
    {
        ReadOnlySpan<byte> token = reader.ReadVarIntPrefixedBytes();

        // RFC 9000 §19.7: an empty Token field is a FRAME_ENCODING_ERROR.
        if (token.IsEmpty)
        {
            throw QuicProtocolException.FrameEncoding("NEW_TOKEN with an empty token.", frameType);
        }

        return new NewTokenFrame(token);
    }

    public void Write(ref QuicWriter writer)
    {
        writer.WriteVarInt((ulong)FrameType.NewToken);
        writer.WriteVarIntPrefixedBytes(Token);
    }

    public int GetLength() => 1 + QuicVarInt.GetLength((ulong)Token.Length) + Token.Length;
}
