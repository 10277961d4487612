using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// Collects one decoded field section of a response: the :status pseudo-header and the regular fields, checked as
/// RFC 9114 §4.1.2 and §4.3.2 require (violations are H3_MESSAGE_ERROR).
/// </summary>
internal sealed class Http3ResponseFields(bool trailers) : IQpackFieldHandler
{
    private readonly List<(string Name, string Value)> _fields = [];
    private bool _regularSeen;

    public int Status { get; private set; }

    public IReadOnlyList<(string Name, string Value)> Fields => _fields;

    public void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        if (name.IsEmpty) throw Malformed("an empty field name");
        if (name[0] == (byte)':')
        {
            // §4.3: pseudo-headers come first, only those defined for responses, once; none in trailers.
            if (trailers || _regularSeen) throw Malformed("a pseudo-header after regular fields or in trailers");
            if (!name.SequenceEqual(":status"u8)) throw Malformed($"the pseudo-header {Encoding.ASCII.GetString(name)}");
            if (Status != 0) throw Malformed("a second :status");
            if (value.Length != 3 || !int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int status) || status < 100)
            {
                throw Malformed("an invalid :status");
            }

            Status = status;
            return;
        }

        _regularSeen = true;
        foreach (byte b in name)
        {
            // §4.2: uppercase field names are malformed; so are characters outside the token set.
            if (b is >= (byte)'A' and <= (byte)'Z' || b <= 0x20 || b >= 0x7F || b == (byte)':') throw Malformed("an invalid field name");
        }

        foreach (byte b in value)
        {
            // §4.2 / RFC 9110 §5.5: no CR, LF or NUL in a field value.
            if (b is 0 or (byte)'\r' or (byte)'\n') throw Malformed("a field value with CR, LF or NUL");
        }

        if (IsConnectionSpecific(name)) throw Malformed($"the connection-specific field {Encoding.ASCII.GetString(name)}");
        _fields.Add((Encoding.ASCII.GetString(name), Encoding.Latin1.GetString(value)));
    }

    /// <summary>Copies the regular fields into <paramref name="headers"/> (content headers into <paramref name="contentHeaders"/>).</summary>
    public void CopyTo(HttpHeaders headers, HttpHeaders? contentHeaders)
    {
        foreach ((string name, string value) in _fields)
        {
            if (!headers.TryAddWithoutValidation(name, value)) contentHeaders?.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>§4.2: connection-specific fields make a message malformed.</summary>
    private static bool IsConnectionSpecific(ReadOnlySpan<byte> name)
        => name.SequenceEqual("connection"u8) || name.SequenceEqual("keep-alive"u8) || name.SequenceEqual("proxy-connection"u8)
            || name.SequenceEqual("transfer-encoding"u8) || name.SequenceEqual("upgrade"u8);

    private static Http3ProtocolViolationException Malformed(string what)
        => new(Http3ErrorCode.MessageError, $"The response has {what} (RFC 9114 §4.1.2).");
}
