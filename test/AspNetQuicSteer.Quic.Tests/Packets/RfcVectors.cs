namespace AspNetQuicSteer.Quic.Tests.Packets;

/// <summary>Sample packets from RFC 9001 Appendix A, transcribed exactly.</summary>
internal static class RfcVectors
{
    /// <summary>RFC 9001 §A.2: unprotected client Initial header (DCID 8394c8f03e515708, packet number 2, Length 1182).</summary>
    public const string ClientInitialHeader = "c300000001088394c8f03e5157080000449e00000002";

    /// <summary>RFC 9001 §A.2: the CRYPTO frame at the start of the client Initial payload (padded to 1162 bytes).</summary>
    public const string ClientInitialCryptoFrame =
        "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
        + "04fe3a47f06a2b69484c000004130113" + "02010000c000000010000e00000b6578"
        + "616d706c652e636f6dff01000100000a" + "00080006001d00170018001000070005"
        + "04616c706e0005000501000000000033" + "00260024001d00209370b2c9caa47fba"
        + "baf4559fedba753de171fa71f50f1ce1" + "5d43e994ec74d748002b000302030400"
        + "0d0010000e0403050306030203080408" + "050806002d00020101001c0002400100"
        + "3900320408ffffffffffffffff050480" + "00ffff07048000ffff08011001048000"
        + "75300901100f088394c8f03e51570806" + "048000ffff";

    /// <summary>RFC 9001 §A.3: unprotected server Initial header (SCID f067a5502a4262b5, packet number 1, Length 117).</summary>
    public const string ServerInitialHeader = "c1000000010008f067a5502a4262b50040750001";

    /// <summary>RFC 9001 §A.3: server Initial payload, an ACK frame then a CRYPTO frame, no PADDING.</summary>
    public const string ServerInitialPayload =
        "02000000000600405a020000560303ee" + "fce7f7b37ba1d1632e96677825ddf739"
        + "88cfc79825df566dc5430b9a045a1200" + "130100002e00330024001d00209d3c94"
        + "0d89690b84d08a60993c144eca684d10" + "81287c834d5311bcf32bb9da1a002b00"
        + "020304";

    /// <summary>RFC 9001 §A.4: Retry answering the client Initial, token "token".</summary>
    public const string Retry = "ff000000010008f067a5502a4262b574" + "6f6b656e04a265ba2eff4d829058fb3f" + "0f2496ba";

    /// <summary>A.2 client Initial datagram before protection: header, CRYPTO frame, PADDING to 1162 bytes, 16 placeholder tag bytes.</summary>
    public static byte[] ClientInitialDatagram()
    {
        byte[] header = Convert.FromHexString(ClientInitialHeader);
        byte[] crypto = Convert.FromHexString(ClientInitialCryptoFrame);
        var datagram = new byte[header.Length + 1162 + 16];
        header.CopyTo(datagram, 0);
        crypto.CopyTo(datagram, header.Length);
        return datagram;
    }

    /// <summary>A.3 server Initial before protection, with 16 placeholder tag bytes.</summary>
    public static byte[] ServerInitialDatagram()
        => [.. Convert.FromHexString(ServerInitialHeader), .. Convert.FromHexString(ServerInitialPayload), .. new byte[16]];
}
