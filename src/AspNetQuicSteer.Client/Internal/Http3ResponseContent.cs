using System.Net;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>The response body as <see cref="HttpContent"/>: read straight from the stream, never buffered by the handler.</summary>
internal sealed class Http3ResponseContent(Http3ResponseStream body) : HttpContent
{
    private int _consumed;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        TakeOnce();
        await body.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
    }

    protected override Task<Stream> CreateContentReadStreamAsync() => Task.FromResult<Stream>(TakeBody());

    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) => Task.FromResult<Stream>(TakeBody());

    protected override Stream CreateContentReadStream(CancellationToken cancellationToken) => TakeBody();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) body.Dispose();
        base.Dispose(disposing);
    }

    private Http3ResponseStream TakeBody()
    {
        TakeOnce();
        return body;
    }

    private void TakeOnce()
    {
        if (Interlocked.Exchange(ref _consumed, 1) != 0) throw new InvalidOperationException("The response content can be read only once.");
    }
}
