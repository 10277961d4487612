using System.Buffers;
using System.Text;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Tests.BadServers;

/// <summary>
/// Raw HTTP/3 bytes for scripted servers: frames are Type (i), Length (i), payload (RFC 9114 §7.1); field sections are
/// QPACK without the dynamic table (RFC 9204 §4.5). Anything may be built here, well-formed or not.
/// </summary>
internal static class H3Frames
{
    /// <summary>A whole frame: header and payload.</summary>
    public static byte[] Frame(ulong type, ReadOnlySpan<byte> payload)
    {
        byte[] header = FrameHeader(type, payload.Length);
        return [.. header, .. payload];
    }

    /// <summary>Only a frame header: the payload (if any) is written separately, or never.</summary>
    public static byte[] FrameHeader(ulong type, long length)
    {
        byte[] header = new byte[Http3FrameHeader.GetLength(type, length)];
        Http3FrameHeader.Write(header, type, length);
        return header;
    }

    /// <summary>A field section with Required Insert Count 0 (RFC 9204 §4.5.1), fields encoded by the product's encoder.</summary>
    public static byte[] FieldSection(params (string Name, string Value)[] fields)
    {
        var writer = new ArrayBufferWriter<byte>();
        QpackEncoder.EncodePrefix(writer);
        foreach ((string name, string value) in fields) QpackEncoder.Encode(writer, name, value);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// One Literal Field Line with Literal Name (RFC 9204 §4.5.6: '001N', no Huffman), written as given: unlike the
    /// encoder, it keeps uppercase letters.
    /// </summary>
    public static byte[] LiteralFieldLine(string name, string value)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name);
        byte[] valueBytes = Encoding.Latin1.GetBytes(value);
        byte[] line = new byte[16 + nameBytes.Length + valueBytes.Length];
        int written = QpackInteger.Encode(line, 0x20, 3, (ulong)nameBytes.Length);
        nameBytes.CopyTo(line, written);
        written += nameBytes.Length;
        written += QpackInteger.Encode(line.AsSpan(written), 0x00, 7, (ulong)valueBytes.Length);
        valueBytes.CopyTo(line, written);
        return line[..(written + valueBytes.Length)];
    }

    /// <summary>A HEADERS frame (RFC 9114 §7.2.2) around <paramref name="fieldSection"/>.</summary>
    public static byte[] Headers(ReadOnlySpan<byte> fieldSection) => Frame(Http3FrameType.Headers, fieldSection);

    /// <summary>A HEADERS frame with well-formed fields.</summary>
    public static byte[] Headers(params (string Name, string Value)[] fields) => Headers(FieldSection(fields));

    /// <summary>HEADERS with :status 200 and, when given, content-length.</summary>
    public static byte[] Ok(long? contentLength = null)
        => contentLength is { } length ? Headers((":status", "200"), ("content-length", length.ToString(System.Globalization.CultureInfo.InvariantCulture))) : Headers((":status", "200"));

    /// <summary>A DATA frame (RFC 9114 §7.2.1).</summary>
    public static byte[] Data(ReadOnlySpan<byte> payload) => Frame(Http3FrameType.Data, payload);

    /// <summary>A SETTINGS frame (RFC 9114 §7.2.4); empty by default (every setting at its default).</summary>
    public static byte[] Settings(params (ulong Id, ulong Value)[] settings)
    {
        byte[] frame = new byte[SettingsFrame.GetLength(settings)];
        SettingsFrame.Write(frame, settings);
        return frame;
    }

    /// <summary>A GOAWAY frame (RFC 9114 §7.2.6).</summary>
    public static byte[] GoAway(ulong id)
    {
        byte[] frame = new byte[GoAwayFrame.GetLength(id)];
        GoAwayFrame.Write(frame, id);
        return frame;
    }

    /// <summary>A PUSH_PROMISE frame (RFC 9114 §7.2.5).</summary>
    public static byte[] PushPromise(ulong pushId, ReadOnlySpan<byte> fieldSection)
    {
        byte[] frame = new byte[PushPromiseFrame.GetLength(pushId, fieldSection.Length)];
        PushPromiseFrame.Write(frame, pushId, fieldSection);
        return frame;
    }

    /// <summary>A complete response: HEADERS (200, content-length), one DATA frame.</summary>
    public static byte[] OkWithBody(string body)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(body);
        return [.. Ok(bytes.Length), .. Data(bytes)];
    }
}
