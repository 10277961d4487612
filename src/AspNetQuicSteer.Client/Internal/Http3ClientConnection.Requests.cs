using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>Request streams (RFC 9114 §4.1): one client-initiated bidirectional stream per request.</summary>
internal sealed partial class Http3ClientConnection
{
    /// <summary>
    /// Sends <paramref name="request"/> on a new stream of this connection (a slot was reserved with
    /// <see cref="TryReserve"/>; it is released when the exchange ends). Throws <see cref="Http3RetryableException"/> when
    /// the server provably did not process it.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ConnectionContext stream;
        try
        {
            stream = await _context.ConnectAsync(null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ConnectionAbortedException or ConnectionResetException)
        {
            // The connection ended before its ConnectionClosed notification reached the pool: retire it now so the
            // retry picks another one.
            Retire();
            Release();
            throw new Http3RetryableException("The connection closed before the request was sent.", MapConnectionFailure(e, -1));
        }
        catch
        {
            Release();
            throw;
        }

        long streamId = stream.Features.Get<IStreamIdFeature>()!.StreamId;
        long goAway = GoAwayId;
        if (goAway >= 0 && streamId >= goAway)
        {
            // RFC 9114 §5.2: the server already said it will not process this stream; do not send on it.
            stream.Features.Get<IProtocolErrorCodeFeature>()!.Error = (long)Http3.Http3ErrorCode.RequestCancelled;
            stream.Abort();
            await stream.DisposeAsync().ConfigureAwait(false);
            Release();
            throw new Http3RetryableException("The connection is going away.",
                new Http3ConnectionResetException($"The server sent GOAWAY({goAway}) before stream {streamId} could be used."));
        }

        var exchange = new Http3RequestExchange(this, stream, streamId, request, _options);
        return await exchange.SendAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>RFC 9114 §5.2: requests on streams at or above the GOAWAY ID were not processed and may be retried.</summary>
    internal bool WasNotProcessed(long streamId)
    {
        long goAway = GoAwayId;
        return goAway >= 0 && streamId >= goAway;
    }
}
