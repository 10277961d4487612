using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// While the generation drains, a request that still reaches it (on a connection opened before the GOAWAY, or a TCP
/// connection the shared listener handed it) asks for its connection to close once answered: HTTP/1.1 responds with
/// <c>Connection: close</c> (RFC 9112 §9.6), HTTP/2 and HTTP/3 send GOAWAY (RFC 9113 §6.8, RFC 9114 §5.2). The request
/// itself is served.
/// </summary>
internal sealed class QuicSteeringDrainMiddleware(RequestDelegate next, GenerationDrainState drain)
{
    public Task InvokeAsync(HttpContext context)
    {
        drain.OnRequest(context.Connection.Id);
        if (drain.IsDraining) context.Features.Get<IConnectionLifetimeNotificationFeature>()?.RequestClose();
        return next(context);
    }
}

/// <summary>Puts <see cref="QuicSteeringDrainMiddleware"/> first in the pipeline unless the app places it itself.</summary>
internal sealed class QuicSteeringDrainStartupFilter(IOptions<QuicSteeringOptions> options) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        if (options.Value.AutomaticDrainMiddleware) app.UseMiddleware<QuicSteeringDrainMiddleware>();
        next(app);
    };
}
