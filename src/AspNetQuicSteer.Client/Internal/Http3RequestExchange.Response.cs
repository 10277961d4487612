using System.Buffers;
using System.Net;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>Reading the response: interim responses, the final HEADERS, then the body through <see cref="Http3ResponseStream"/>.</summary>
internal sealed partial class Http3RequestExchange
{
    private async Task<HttpResponseMessage> ReadResponseHeadersAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            (ulong Type, long Length) frame = await Http3FramePipeReader.ReadHeaderAsync(_input, cancellationToken).ConfigureAwait(false)
                ?? throw new Http3ProtocolViolationException(Http3ErrorCode.MessageError, "The response ended before its headers (RFC 9114 §4.1).");
            switch (frame.Type)
            {
                case Http3FrameType.Headers:
                    Http3ResponseFields fields = await ReadFieldSectionAsync(frame.Length, trailers: false, cancellationToken).ConfigureAwait(false);
                    if (fields.Status == 0) throw new Http3ProtocolViolationException(Http3ErrorCode.MessageError, "The response has no :status (RFC 9114 §4.3.2).");
                    if (fields.Status == 101)
                    {
                        throw new Http3ProtocolViolationException(Http3ErrorCode.MessageError, "101 Switching Protocols is not allowed in HTTP/3 (RFC 9114 §4.5).");
                    }

                    if (fields.Status < 200) continue; // RFC 9114 §4.1: interim responses precede the final one
                    return CreateResponse(fields);
                default:
                    await HandleNonHeadersFrameAsync(frame, cancellationToken).ConfigureAwait(false);
                    break;
            }
        }
    }

    /// <summary>Frames other than HEADERS/DATA on a request stream: unknown ones are skipped (RFC 9114 §9), the rest are errors.</summary>
    internal async ValueTask HandleNonHeadersFrameAsync((ulong Type, long Length) frame, CancellationToken cancellationToken)
    {
        switch (frame.Type)
        {
            case Http3FrameType.Data:
                throw new Http3ProtocolViolationException(Http3ErrorCode.FrameUnexpected, "DATA before the response headers (RFC 9114 §4.1).");
            case Http3FrameType.PushPromise:
                throw new Http3ProtocolViolationException(Http3ErrorCode.IdError, "PUSH_PROMISE although no push was allowed (RFC 9114 §7.2.5).");
            case Http3FrameType.Settings or Http3FrameType.GoAway or Http3FrameType.MaxPushId or Http3FrameType.CancelPush:
                throw new Http3ProtocolViolationException(Http3ErrorCode.FrameUnexpected, $"Control frame 0x{frame.Type:x} on a request stream (RFC 9114 §7.2).");
            default:
                if (Http3FrameType.IsHttp2Only(frame.Type))
                {
                    throw new Http3ProtocolViolationException(Http3ErrorCode.FrameUnexpected, $"HTTP/2 frame type 0x{frame.Type:x} (RFC 9114 §7.2.8).");
                }

                await Http3FramePipeReader.SkipAsync(_input, frame.Length, cancellationToken).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>Reads and decodes one HEADERS payload (RFC 9204 §4.5), bounded by our SETTINGS_MAX_FIELD_SECTION_SIZE.</summary>
    internal async ValueTask<Http3ResponseFields> ReadFieldSectionAsync(long length, bool trailers, CancellationToken cancellationToken)
    {
        if (length > _options.MaxResponseHeadersLength)
        {
            throw new Http3ProtocolViolationException(Http3ErrorCode.MessageError,
                $"A {length}-byte field section exceeds SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2).");
        }

        byte[] payload = ArrayPool<byte>.Shared.Rent((int)length);
        try
        {
            await Http3FramePipeReader.ReadPayloadAsync(_input, payload.AsMemory(0, (int)length), cancellationToken).ConfigureAwait(false);
            var fields = new Http3ResponseFields(trailers);
            QpackDecoder.Decode(payload.AsSpan(0, (int)length), fields, _options.MaxResponseHeadersLength);
            return fields;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }

    private HttpResponseMessage CreateResponse(Http3ResponseFields fields)
    {
        var response = new HttpResponseMessage((HttpStatusCode)fields.Status)
        {
            Version = HttpVersion.Version30,
            RequestMessage = _request,
        };
        var body = new Http3ResponseStream(this, response, _options);
        var content = new Http3ResponseContent(body);
        response.Content = content;
        fields.CopyTo(response.Headers, content.Headers);

        // RFC 9110 §8.6 / RFC 9114 §4.1.2: a Content-Length that does not match the DATA received is malformed; HEAD
        // responses and 204/304 carry no content whatever the header says.
        bool noContent = _request.Method == HttpMethod.Head || fields.Status is 204 or 304;
        body.ExpectedLength = noContent ? 0 : content.Headers.ContentLength;
        return response;
    }
}
