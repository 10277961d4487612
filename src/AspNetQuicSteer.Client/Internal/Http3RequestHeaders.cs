using System.Buffers;
using System.Globalization;
using System.Net.Http.Headers;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>Encodes a request's field section: pseudo-headers first (RFC 9114 §4.3.1), then the regular fields (§4.2).</summary>
internal static class Http3RequestHeaders
{
    public static void Encode(HttpRequestMessage request, IBufferWriter<byte> fields)
    {
        Uri uri = request.RequestUri!;
        QpackEncoder.EncodePrefix(fields);
        QpackEncoder.Encode(fields, ":method", request.Method.Method);
        QpackEncoder.Encode(fields, ":scheme", "https");
        QpackEncoder.Encode(fields, ":authority", request.Headers.Host ?? Authority(uri));
        QpackEncoder.Encode(fields, ":path", uri.PathAndQuery.Length == 0 ? "/" : uri.PathAndQuery);

        WriteFields(request.Headers.NonValidated, fields);
        if (request.Content is { } content)
        {
            // Computing the length lets the server size its buffers; Content-Length is optional in HTTP/3 (§4.1.2).
            _ = content.Headers.ContentLength;
            WriteFields(content.Headers.NonValidated, fields);
        }
    }

    private static string Authority(Uri uri) => uri.IsDefaultPort ? uri.IdnHost : string.Create(CultureInfo.InvariantCulture, $"{HostLiteral(uri)}:{uri.Port}");

    private static string HostLiteral(Uri uri) => uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost}]" : uri.IdnHost;

    private static void WriteFields(HttpHeadersNonValidated headers, IBufferWriter<byte> fields)
    {
        foreach (KeyValuePair<string, HeaderStringValues> header in headers)
        {
            string name = header.Key;
            if (IsConnectionSpecific(name, header.Value, out bool teTrailers))
            {
                if (teTrailers) QpackEncoder.Encode(fields, "te", "trailers");
                continue;
            }

            foreach (string value in header.Value)
            {
                QpackEncoder.Encode(fields, name, value); // the encoder lowercases names (RFC 9114 §4.2)
            }
        }
    }

    /// <summary>
    /// RFC 9114 §4.2: connection-specific fields are not sent; TE only as "trailers". Host becomes :authority (§4.3.1).
    /// </summary>
    private static bool IsConnectionSpecific(string name, HeaderStringValues values, out bool teTrailers)
    {
        teTrailers = false;
        if (name.Equals("te", StringComparison.OrdinalIgnoreCase))
        {
            foreach (string value in values)
            {
                if (value.Contains("trailers", StringComparison.OrdinalIgnoreCase)) teTrailers = true;
            }

            return true;
        }

        return name.Equals("host", StringComparison.OrdinalIgnoreCase)
            || name.Equals("connection", StringComparison.OrdinalIgnoreCase)
            || name.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
            || name.Equals("proxy-connection", StringComparison.OrdinalIgnoreCase)
            || name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase)
            || name.Equals("upgrade", StringComparison.OrdinalIgnoreCase);
    }
}
