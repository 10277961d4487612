using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using AspNetQuicSteer.Client.Http3;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// Write-only stream the request content is copied into: each write becomes one DATA frame (RFC 9114 §7.2.1) on the
/// request stream's pipe; flushing waits while the stream's send buffer is full (flow control).
/// </summary>
internal sealed class Http3RequestBodyStream(PipeWriter output) : Stream
{
    /// <summary>Writes larger than this are split, so frames stay a modest size.</summary>
    private const int MaxFramePayload = 64 * 1024;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            int length = Math.Min(buffer.Length, MaxFramePayload);
            int header = Http3FrameHeader.GetLength(Http3FrameType.Data, length);
            Span<byte> span = output.GetSpan(header);
            Http3FrameHeader.Write(span, Http3FrameType.Data, length);
            output.Advance(header);
            buffer.Span[..length].CopyTo(output.GetSpan(length));
            output.Advance(length);
            buffer = buffer[length..];
            FlushResult result = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCompleted || result.IsCanceled) throw new ConnectionResetException("The server stopped reading the request body.");
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
