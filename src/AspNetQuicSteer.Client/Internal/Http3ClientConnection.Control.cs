using System.Buffers;
using System.IO.Pipelines;
using AspNetQuicSteer.Client.Http3;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>The connection's unidirectional streams: ours (control) and the server's (control, QPACK, anything else).</summary>
internal sealed partial class Http3ClientConnection
{
    private ConnectionContext? _controlStream;
    private int _peerControlStreams;
    private int _peerEncoderStreams;
    private int _peerDecoderStreams;

    /// <summary>The server's SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2); unlimited until it says otherwise.</summary>
    private long _peerMaxFieldSectionSize = long.MaxValue;

    internal long PeerMaxFieldSectionSize => Interlocked.Read(ref _peerMaxFieldSectionSize);

    private async Task StartControlStreamsAsync(CancellationToken cancellationToken)
    {
        _controlStream = await _context.ConnectAsync(UnidirectionalStreamRequest.Features, cancellationToken).ConfigureAwait(false);
        await _controlStream.Transport.Output.WriteAsync(BuildControlPreface(_options.MaxResponseHeadersLength), cancellationToken).ConfigureAwait(false);
        _ = AcceptServerStreamsAsync();
    }

    /// <summary>
    /// RFC 9114 §6.2.1: the stream type, then SETTINGS as the first frame. RFC 9204 §3.2.3: a zero dynamic table and no
    /// blocked streams (also the defaults, sent explicitly). §7.2.4.1: one reserved setting so servers meet GREASE.
    /// </summary>
    private static byte[] BuildControlPreface(int maxFieldSectionSize)
    {
        (ulong Id, ulong Value)[] settings =
        [
            (SettingsFrame.QpackMaxTableCapacity, 0),
            (SettingsFrame.QpackBlockedStreams, 0),
            (SettingsFrame.MaxFieldSectionSize, (ulong)maxFieldSectionSize),
            (0x1F * (ulong)Random.Shared.Next(1, 1000) + 0x21, (ulong)Random.Shared.Next(0, 1 << 14)),
        ];
        int length = SettingsFrame.GetLength(settings);
        byte[] preface = new byte[1 + length];
        preface[0] = (byte)Http3StreamType.Control;
        SettingsFrame.Write(preface.AsSpan(1), settings);
        return preface;
    }

    private async Task AcceptServerStreamsAsync()
    {
        while (true)
        {
            ConnectionContext? stream;
            try
            {
                stream = await _context.AcceptAsync().ConfigureAwait(false);
            }
#pragma warning disable CA1031 // The accept loop ends with the connection, whatever ended it.
            catch (Exception)
#pragma warning restore CA1031
            {
                return;
            }

            if (stream is null) return;
            _ = HandleServerStreamAsync(stream);
        }
    }

    private async Task HandleServerStreamAsync(ConnectionContext stream)
    {
        PipeReader input = stream.Transport.Input;
        try
        {
            ulong? type = await Http3FramePipeReader.ReadStreamTypeAsync(input, CancellationToken.None).ConfigureAwait(false);
            switch (type)
            {
                case null:
                    return; // ended before its type: nothing to interpret
                case Http3StreamType.Control:
                    // RFC 9114 §6.2.1: only one control stream per peer.
                    if (Interlocked.Increment(ref _peerControlStreams) > 1) throw Violation(Http3ErrorCode.StreamCreationError, "A second control stream.");
                    await ReadControlStreamAsync(input).ConfigureAwait(false);
                    break;
                case Http3StreamType.Push:
                    // RFC 9114 §4.6: we never sent MAX_PUSH_ID, so no push ID is valid.
                    throw Violation(Http3ErrorCode.IdError, "A push stream although no push was allowed.");
                case Http3StreamType.QpackEncoder:
                    // RFC 9204 §4.2: one encoder stream; closing it is H3_CLOSED_CRITICAL_STREAM.
                    if (Interlocked.Increment(ref _peerEncoderStreams) > 1) throw Violation(Http3ErrorCode.StreamCreationError, "A second QPACK encoder stream.");
                    await ReadQpackStreamAsync(input, new QpackEncoderStreamReader().Consume).ConfigureAwait(false);
                    break;
                case Http3StreamType.QpackDecoder:
                    if (Interlocked.Increment(ref _peerDecoderStreams) > 1) throw Violation(Http3ErrorCode.StreamCreationError, "A second QPACK decoder stream.");
                    await ReadQpackStreamAsync(input, new QpackDecoderStreamReader().Consume).ConfigureAwait(false);
                    break;
                default:
                    // RFC 9114 §6.2: unknown (and reserved, §6.2.3) stream types are not read; abort with H3_STREAM_CREATION_ERROR.
                    stream.Features.Get<IStreamAbortFeature>()?.AbortRead((long)Http3ErrorCode.StreamCreationError,
                        new ConnectionAbortedException("Unknown stream type."));
                    break;
            }
        }
        catch (Http3ProtocolViolationException e)
        {
            Fail(e.ErrorCode, e.Message);
        }
        catch (ConnectionResetException) when (stream.Features.Get<IProtocolErrorCodeFeature>() is { Error: >= 0 })
        {
            // RFC 9114 §6.2.1 / RFC 9204 §4.2: a reset critical stream is a connection error.
            Fail(Http3ErrorCode.ClosedCriticalStream, "The server reset a critical stream.");
        }
        catch (Exception e) when (e is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException or InvalidOperationException)
        {
            // The connection ended under the stream.
        }
        finally
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task ReadControlStreamAsync(PipeReader input)
    {
        // RFC 9114 §6.2.1: the first frame is SETTINGS, else H3_MISSING_SETTINGS.
        (ulong Type, long Length) first = await Http3FramePipeReader.ReadHeaderAsync(input, CancellationToken.None).ConfigureAwait(false)
            ?? throw Violation(Http3ErrorCode.ClosedCriticalStream, "The control stream ended.");
        if (first.Type != Http3FrameType.Settings) throw Violation(Http3ErrorCode.MissingSettings, "The control stream did not start with SETTINGS.");
        byte[] payload = await ReadSmallPayloadAsync(input, first.Length).ConfigureAwait(false);
        if (SettingsFrame.TryGetValue(SettingsFrame.Parse(payload), SettingsFrame.MaxFieldSectionSize, out ulong maxFieldSection))
        {
            Interlocked.Exchange(ref _peerMaxFieldSectionSize, (long)Math.Min(maxFieldSection, long.MaxValue));
        }

        while (true)
        {
            (ulong Type, long Length) frame = await Http3FramePipeReader.ReadHeaderAsync(input, CancellationToken.None).ConfigureAwait(false)
                ?? throw Violation(Http3ErrorCode.ClosedCriticalStream, "The control stream ended (RFC 9114 §6.2.1).");
            switch (frame.Type)
            {
                case Http3FrameType.GoAway:
                    OnGoAwayFrame(GoAwayFrame.Parse(await ReadSmallPayloadAsync(input, frame.Length).ConfigureAwait(false)));
                    break;
                case Http3FrameType.Settings:
                    throw Violation(Http3ErrorCode.FrameUnexpected, "A second SETTINGS frame (RFC 9114 §7.2.4).");
                case Http3FrameType.MaxPushId:
                    throw Violation(Http3ErrorCode.FrameUnexpected, "MAX_PUSH_ID from a server (RFC 9114 §7.2.7).");
                case Http3FrameType.CancelPush:
                    throw Violation(Http3ErrorCode.IdError, "CANCEL_PUSH although no push was allowed (RFC 9114 §7.2.3).");
                case Http3FrameType.Data or Http3FrameType.Headers or Http3FrameType.PushPromise:
                    throw Violation(Http3ErrorCode.FrameUnexpected, $"Frame type 0x{frame.Type:x} on the control stream (RFC 9114 §7.2).");
                default:
                    if (Http3FrameType.IsHttp2Only(frame.Type))
                    {
                        throw Violation(Http3ErrorCode.FrameUnexpected, $"HTTP/2 frame type 0x{frame.Type:x} (RFC 9114 §7.2.8).");
                    }

                    await Http3FramePipeReader.SkipAsync(input, frame.Length, CancellationToken.None).ConfigureAwait(false); // §9: ignore unknown frames
                    break;
            }
        }
    }

    /// <summary>
    /// RFC 9114 §5.2: the ID is a client-initiated bidirectional stream ID and never increases; otherwise H3_ID_ERROR.
    /// </summary>
    private void OnGoAwayFrame(ulong id)
    {
        if (id % 4 != 0) throw Violation(Http3ErrorCode.IdError, $"GOAWAY names stream {id}, not a client-initiated bidirectional stream.");
        long previous = GoAwayId;
        if (previous >= 0 && (long)id > previous) throw Violation(Http3ErrorCode.IdError, $"GOAWAY raised its ID from {previous} to {id}.");
        OnGoAway((long)id);
    }

    private static async Task ReadQpackStreamAsync(PipeReader input, InstructionConsumer instructions)
    {
        byte[] scratch = new byte[256];
        while (true)
        {
            ReadResult result = await input.ReadAsync().ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int consumed = 0;
            if (!buffer.IsEmpty)
            {
                ReadOnlySpan<byte> data = buffer.IsSingleSegment ? buffer.FirstSpan : Flatten(buffer, ref scratch);
                consumed = instructions(data);
            }

            input.AdvanceTo(buffer.GetPosition(consumed), buffer.End);
            if (result.IsCompleted) throw Violation(Http3ErrorCode.ClosedCriticalStream, "A QPACK stream ended (RFC 9204 §4.2).");
        }
    }

    private static ReadOnlySpan<byte> Flatten(ReadOnlySequence<byte> buffer, ref byte[] scratch)
    {
        if (buffer.Length > Http3FramePipeReader.MaxBufferedFramePayload) throw Violation(Http3ErrorCode.ExcessiveLoad, "An oversized QPACK instruction.");
        if (scratch.Length < buffer.Length) scratch = new byte[buffer.Length];
        buffer.CopyTo(scratch);
        return scratch.AsSpan(0, (int)buffer.Length);
    }

    private static async Task<byte[]> ReadSmallPayloadAsync(PipeReader input, long length)
    {
        if (length > Http3FramePipeReader.MaxBufferedFramePayload) throw Violation(Http3ErrorCode.ExcessiveLoad, $"A {length}-byte control frame.");
        byte[] payload = new byte[length];
        await Http3FramePipeReader.ReadPayloadAsync(input, payload, CancellationToken.None).ConfigureAwait(false);
        return payload;
    }

    /// <summary>Validates a QPACK encoder or decoder stream's instructions; returns the bytes consumed.</summary>
    private delegate int InstructionConsumer(ReadOnlySpan<byte> data);

    private static Http3ProtocolViolationException Violation(Http3ErrorCode code, string message) => new(code, message);
}
