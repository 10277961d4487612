using AspNetQuicSteer.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Request-pipeline pieces of <c>UseQuicSteering()</c>.</summary>
public static class ApplicationBuilderQuicSteeringExtensions
{
    /// <summary>
    /// While this generation drains (a newer one took over its port), each request asks for its connection to close once
    /// answered: HTTP/1.1 gets <c>Connection: close</c>, HTTP/2 and HTTP/3 a GOAWAY, so clients reconnect to the newer
    /// generation. <c>UseQuicSteering()</c> adds it first in the pipeline by itself; call this (with
    /// <c>QuicSteering:AutomaticDrainMiddleware</c> false) to place it elsewhere.
    /// </summary>
    public static IApplicationBuilder UseQuicSteeringDrain(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<GenerationDrainState>() is null)
        {
            throw new InvalidOperationException("UseQuicSteeringDrain() needs builder.WebHost.UseQuicSteering().");
        }

        return app.UseMiddleware<QuicSteeringDrainMiddleware>();
    }
}
