using System.Net.Sockets;
using AspNetQuicSteer.Kestrel;
using Microsoft.Extensions.Logging;

namespace AspNetQuicSteer.Client.Internal;

/// <summary>
/// The UDP sockets (each with its loop thread) that one or more handlers open connections on. Created on first use,
/// up to EndpointCount per address family, then reused round robin. Handlers that share a set (the load tool gives
/// each of its connections a handler, all on one set) share loop threads, which on a small machine is cheaper than a
/// thread per handler. Reference-counted: the last handler to let go disposes the sockets.
/// </summary>
internal sealed class Http3ClientEndpointSet
{
    private readonly object _lock = new();
    private readonly List<Http3ClientEndpoint> _endpoints = [];
    private readonly QuicSteeringTransportOptions _transport;
    private readonly ILogger _logger;
    private readonly int _endpointCount;
    private int _next;
    private int _references = 1;

    private readonly QuicSteeringHttp3HandlerOptions? _handler;

    public Http3ClientEndpointSet(QuicSteeringTransportOptions transport, ILogger logger, int endpointCount, QuicSteeringHttp3HandlerOptions? handler = null)
    {
        _handler = handler;
        _transport = transport;
        _logger = logger;
        _endpointCount = endpointCount;
    }

    public Http3ClientEndpoint Get(AddressFamily family)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_references == 0, this);
            List<Http3ClientEndpoint> matching = _endpoints.FindAll(e => e.BoundEndPoint.AddressFamily == family);
            if (matching.Count < _endpointCount)
            {
                var endpoint = new Http3ClientEndpoint(family, _transport, _logger, _handler);
                _endpoints.Add(endpoint);
                return endpoint;
            }

            return matching[(int)((uint)_next++ % (uint)matching.Count)];
        }
    }

    /// <summary>Another handler uses this set; false when it is already disposed.</summary>
    public bool TryAddReference()
    {
        lock (_lock)
        {
            if (_references == 0) return false;
            _references++;
            return true;
        }
    }

    public async ValueTask ReleaseAsync()
    {
        Http3ClientEndpoint[] endpoints;
        lock (_lock)
        {
            if (_references == 0 || --_references > 0) return;
            endpoints = [.. _endpoints];
        }

        foreach (Http3ClientEndpoint endpoint in endpoints) await endpoint.DisposeAsync().ConfigureAwait(false);
    }
}
