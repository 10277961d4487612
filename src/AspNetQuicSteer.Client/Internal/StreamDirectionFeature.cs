using Microsoft.AspNetCore.Connections.Features;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>Asks the connection context for an outbound unidirectional stream (the HTTP/3 control stream).</summary>
internal sealed class UnidirectionalStreamRequest : IStreamDirectionFeature
{
    public static readonly Microsoft.AspNetCore.Http.Features.FeatureCollection Features = Create();

    public bool CanRead => false;

    public bool CanWrite => true;

    private static Microsoft.AspNetCore.Http.Features.FeatureCollection Create()
    {
        var features = new Microsoft.AspNetCore.Http.Features.FeatureCollection();
        features.Set<IStreamDirectionFeature>(new UnidirectionalStreamRequest());
        return features;
    }
}
