using CsCheck;

namespace AspNetQuicSteer.Quic.Tests.Packets;

/// <summary>
/// Fuzz inputs made from valid encodings: each sample applies one to six random edits (bit flip,
/// truncation, insertion, deletion, overwrite with a boundary byte) to one of the seeds.
/// </summary>
internal static class Mutations
{
    // Varint length boundaries (QUIC, RFC 9000 §16), prefix-integer boundaries (QPACK, RFC 7541 §5.1), type codes.
    private static readonly byte[] BoundaryBytes = [0x00, 0xff, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0x14, 0x15, 0x01, 0x1f, 0x20, 0x0f, 0x07];

    public static Gen<byte[]> Of(params byte[][] seeds)
        => Gen.Select(Gen.Int[0, seeds.Length - 1], Gen.UInt.Array[1, 6], (index, edits) => Apply(seeds[index], edits));

    public static byte[] Apply(byte[] seed, uint[] edits)
    {
        var bytes = new List<byte>(seed);
        foreach (uint edit in edits)
        {
            int position = (int)((edit >> 3) % (uint)(bytes.Count + 1));
            switch (edit % 5)
            {
                case 0 when bytes.Count > 0:
                    bytes[position % bytes.Count] ^= (byte)(1 << (int)((edit >> 27) & 7));
                    break;
                case 1:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                case 2:
                    bytes.Insert(position, (byte)(edit >> 24));
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveAt(position % bytes.Count);
                    break;
                case 4 when bytes.Count > 0:
                    bytes[position % bytes.Count] = BoundaryBytes[(edit >> 24) % BoundaryBytes.Length];
                    break;
            }
        }

        return [.. bytes];
    }
}
