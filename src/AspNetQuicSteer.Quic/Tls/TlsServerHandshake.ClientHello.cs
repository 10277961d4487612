using System.Net.Security;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.KeyExchange;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>ClientHello processing, negotiation and HelloRetryRequest.</summary>
internal sealed partial class TlsServerHandshake
{
    private void OnClientHello(byte[] message, ReadOnlySpan<byte> body)
    {
        ClientHelloMessage hello = ClientHelloMessage.Decode(body);
        ValidateClientHello(hello);
        _clientHello = hello;
        _clientHelloBytes = message;
        List<SslApplicationProtocol> offered = [];
        foreach (byte[] p in hello.ApplicationProtocols!)
        {
            offered.Add(new SslApplicationProtocol(p));
        }

        ClientHelloInfo = new TlsClientHelloInfo(hello.ServerName, offered);
        if (_options is null)
        {
            _state = ServerState.AwaitingConfiguration;
            return;
        }

        Negotiate();
    }

    /// <summary>Checks that do not depend on the server configuration.</summary>
    private static void ValidateClientHello(ClientHelloMessage hello)
    {
        // RFC 8446 §4.2.1: without supported_versions containing TLS 1.3 the client wants TLS 1.2 or older.
        if (hello.SupportedVersions is null || !hello.SupportedVersions.Contains(TlsConstants.Tls13))
        {
            throw new TlsAlertException(TlsAlert.ProtocolVersion, "The client does not offer TLS 1.3.");
        }

        // RFC 9001 §8.4: no middlebox compatibility mode in QUIC; a non-empty legacy_session_id is an error.
        if (hello.LegacySessionId.Length != 0)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "Non-empty legacy_session_id in a QUIC ClientHello (RFC 9001 §8.4).");
        }

        // RFC 9001 §8.2: quic_transport_parameters is mandatory → missing_extension.
        if (hello.TransportParameters is null)
        {
            throw new TlsAlertException(TlsAlert.MissingExtension, "The ClientHello lacks quic_transport_parameters.");
        }

        // RFC 9001 §8.1: ALPN must be negotiated; no offer at all means no protocol.
        if (hello.ApplicationProtocols is null)
        {
            throw new TlsAlertException(TlsAlert.NoApplicationProtocol, "The client offered no ALPN protocol.");
        }

        // RFC 8446 §9.2: certificate-based handshakes need signature_algorithms, supported_groups and key_share.
        if (hello.SignatureAlgorithms is null)
        {
            throw new TlsAlertException(TlsAlert.MissingExtension, "The ClientHello lacks signature_algorithms.");
        }

        if (hello.SupportedGroups is null || hello.KeyShares is null)
        {
            throw new TlsAlertException(TlsAlert.MissingExtension, "The ClientHello lacks supported_groups or key_share.");
        }

        // RFC 8446 §4.2.8: each KeyShareEntry must name a group offered in supported_groups.
        foreach (TlsKeyShareEntry share in hello.KeyShares)
        {
            if (!hello.SupportedGroups.Contains(share.Group))
            {
                throw new TlsAlertException(TlsAlert.IllegalParameter, $"key_share group 0x{share.Group:x4} is not in supported_groups.");
            }
        }

        // RFC 8446 §4.2.9: a pre_shared_key offer requires psk_key_exchange_modes.
        if (hello.PskIdentities is not null && hello.PskKeyExchangeModes is null)
        {
            throw new TlsAlertException(TlsAlert.MissingExtension, "pre_shared_key without psk_key_exchange_modes.");
        }
    }

    /// <summary>Chooses suite, ALPN, signature scheme and group, then sends ServerHello or HelloRetryRequest.</summary>
    private void Negotiate()
    {
        TlsServerOptions options = _options!;
        ClientHelloMessage hello = _clientHello!;

        // RFC 8446 §4.1.1: no common cipher suite → handshake_failure. Server preference order.
        TlsCipherSuite? suite = null;
        foreach (TlsCipherSuite s in options.CipherSuites)
        {
            if (hello.CipherSuites.Contains((ushort)s))
            {
                suite = s;
                break;
            }
        }

        CipherSuite = suite ?? throw new TlsAlertException(TlsAlert.HandshakeFailure, "No cipher suite in common.");

        // RFC 9001 §8.1 / RFC 7301 §3.2: no ALPN overlap → no_application_protocol.
        foreach (SslApplicationProtocol p in options.ApplicationProtocols)
        {
            foreach (byte[] offered in hello.ApplicationProtocols!)
            {
                if (p.Protocol.Span.SequenceEqual(offered))
                {
                    _alpn = offered;
                    break;
                }
            }

            if (_alpn is not null)
            {
                break;
            }
        }

        if (_alpn is null)
        {
            throw new TlsAlertException(TlsAlert.NoApplicationProtocol, "No ALPN protocol in common.");
        }

        // RFC 8446 §4.2.3: no signature scheme usable with our key among the client's → handshake_failure.
        _signatureScheme = TlsSignatures.Select(options.Certificate, hello.SignatureAlgorithms!)
            ?? throw new TlsAlertException(TlsAlert.HandshakeFailure, "No signature scheme in common for the server certificate.");

        _transcript.SetHash(CipherSuite.Value.Hash());
        _transcript.Append(_clientHelloBytes);

        // Prefer a group the client already sent a share for (server preference among those); only when none
        // fits fall back to a HelloRetryRequest for a mutually supported group (RFC 8446 §4.1.1, §4.1.4).
        foreach (TlsNamedGroup g in options.Groups)
        {
            foreach (TlsKeyShareEntry share in hello.KeyShares!)
            {
                if (share.Group == (ushort)g)
                {
                    NegotiatedGroup = g;
                    SendServerFlight(share);
                    return;
                }
            }
        }

        foreach (TlsNamedGroup g in options.Groups)
        {
            if (hello.SupportedGroups!.Contains((ushort)g) && TlsKeyExchangeFactory.IsSupported((ushort)g))
            {
                SendHelloRetryRequest(g);
                return;
            }
        }

        // RFC 8446 §4.1.1: no mutually supported group → handshake_failure.
        throw new TlsAlertException(TlsAlert.HandshakeFailure, "No key exchange group in common.");
    }

    /// <summary>RFC 8446 §4.1.4: HelloRetryRequest naming the group; the transcript restarts with message_hash (§4.4.1).</summary>
    private void SendHelloRetryRequest(TlsNamedGroup group)
    {
        _transcript.ReplaceWithMessageHash();
        ServerHelloMessage retry = new()
        {
            Random = TlsConstants.HelloRetryRequestRandom.ToArray(),
            LegacySessionIdEcho = _clientHello!.LegacySessionId,
            CipherSuite = (ushort)CipherSuite!.Value,
            SelectedVersion = TlsConstants.Tls13,
            SelectedGroup = (ushort)group,
        };
        byte[] bytes = retry.Encode();
        _transcript.Append(bytes);
        _output.AddData(EncryptionLevel.Initial, bytes);
        _retryGroup = (ushort)group;
        _state = ServerState.ExpectSecondClientHello;
    }

    /// <summary>
    /// RFC 8446 §4.1.2: the second ClientHello repeats the first except key_share (one share for the requested
    /// group, §4.2.8), early_data (removed, §4.2.10), cookie and pre_shared_key; violations are illegal_parameter.
    /// </summary>
    private void OnSecondClientHello(byte[] message, ReadOnlySpan<byte> body)
    {
        ClientHelloMessage second = ClientHelloMessage.Decode(body);
        ValidateClientHello(second);
        ClientHelloMessage first = _clientHello!;
        bool same = second.Random.AsSpan().SequenceEqual(first.Random)
            && second.CipherSuites.AsSpan().SequenceEqual(first.CipherSuites)
            && second.ServerName == first.ServerName
            && SameList(second.SupportedGroups, first.SupportedGroups)
            && SameList(second.SignatureAlgorithms, first.SignatureAlgorithms)
            && SameList(second.SupportedVersions, first.SupportedVersions)
            && second.TransportParameters.AsSpan().SequenceEqual(first.TransportParameters)
            && second.ApplicationProtocols!.Count == first.ApplicationProtocols!.Count
            && second.ApplicationProtocols.Zip(first.ApplicationProtocols).All(p => p.First.AsSpan().SequenceEqual(p.Second));
        if (!same)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "The second ClientHello differs from the first beyond key_share.");
        }

        if (second.EarlyData)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "early_data in the ClientHello after a HelloRetryRequest.");
        }

        if (second.KeyShares!.Count != 1 || second.KeyShares[0].Group != _retryGroup)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "The second ClientHello does not carry exactly one share for the requested group.");
        }

        if (!second.CipherSuites.Contains((ushort)CipherSuite!.Value))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "The second ClientHello dropped the selected cipher suite.");
        }

        _clientHello = second;
        _transcript.Append(message);
        NegotiatedGroup = (TlsNamedGroup)_retryGroup!.Value;
        SendServerFlight(second.KeyShares[0]);
    }

    private static bool SameList(ushort[]? a, ushort[]? b) => a.AsSpan().SequenceEqual(b);
}
