using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace AspNetQuicSteer.Hosting.Internal;

/// <summary>
/// Every Kestrel endpoint (code, configuration, URLs) passes through the endpoint defaults UseQuicSteering installs;
/// they are recorded here so the startup check can tell which endpoints asked for HTTP/3.
/// </summary>
internal sealed class Http3EndpointRegistry
{
    private readonly object _lock = new();
    private readonly List<ListenOptions> _endpoints = [];

    public void Add(ListenOptions endpoint)
    {
        lock (_lock)
        {
            if (!_endpoints.Contains(endpoint)) _endpoints.Add(endpoint);
        }
    }

    public IReadOnlyList<ListenOptions> Snapshot()
    {
        lock (_lock) return [.. _endpoints];
    }
}
