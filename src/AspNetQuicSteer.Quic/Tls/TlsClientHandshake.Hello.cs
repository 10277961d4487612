using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls.KeyExchange;
using AspNetQuicSteer.Quic.Tls.Messages;

namespace AspNetQuicSteer.Quic.Tls;

/// <summary>ClientHello, HelloRetryRequest and ServerHello.</summary>
internal sealed partial class TlsClientHandshake
{
    private void SendClientHello()
    {
        List<TlsKeyShareEntry> shares = [];
        foreach (TlsNamedGroup group in _options.KeyShareGroups)
        {
            ITlsKeyExchange exchange = TlsKeyExchangeFactory.Create(group);
            _keyExchanges.Add(exchange);
            shares.Add(new TlsKeyShareEntry((ushort)group, exchange.PublicKey));
        }

        _hello = new ClientHelloMessage
        {
            Random = RandomNumberGenerator.GetBytes(TlsConstants.RandomLength),
            LegacySessionId = [], // RFC 9001 §8.4: no middlebox compatibility mode.
            CipherSuites = [.. _options.CipherSuites.Select(s => (ushort)s)],
            ServerName = ServerName,
            SupportedGroups = [.. _options.SupportedGroups.Select(g => (ushort)g)],
            SignatureAlgorithms = TlsSignatures.Supported,
            KeyShares = shares,
            SupportedVersions = [TlsConstants.Tls13],
            ApplicationProtocols = [.. _options.ApplicationProtocols.Select(p => p.Protocol.ToArray())],
            TransportParameters = _options.TransportParameters.ToArray(),

            // Resumption seam: psk_key_exchange_modes + pre_shared_key (last) would be added here with a ticket.
        };
        byte[] bytes = _hello.Encode();
        _transcript.Append(bytes);
        _output.AddData(EncryptionLevel.Initial, bytes);
        _state = ClientState.ExpectServerHello;
    }

    private void OnServerHello(byte[] message, ReadOnlySpan<byte> body)
    {
        ServerHelloMessage hello = ServerHelloMessage.Decode(body);

        // RFC 8446 §4.1.3: without supported_versions the server negotiated TLS 1.2 or older.
        if (hello.SelectedVersion is null)
        {
            throw new TlsAlertException(TlsAlert.ProtocolVersion, "The server does not speak TLS 1.3.");
        }

        // RFC 8446 §4.2.1: a selected_version we did not offer is illegal_parameter.
        if (hello.SelectedVersion != TlsConstants.Tls13)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"The server selected version 0x{hello.SelectedVersion:x4}.");
        }

        // RFC 8446 §4.1.3: legacy_session_id_echo must match what we sent.
        if (!hello.LegacySessionIdEcho.AsSpan().SequenceEqual(_hello!.LegacySessionId))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "legacy_session_id_echo does not match.");
        }

        // RFC 8446 §4.1.3: a cipher suite we did not offer is illegal_parameter.
        if (!_hello.CipherSuites.Contains(hello.CipherSuite))
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"The server selected unoffered suite 0x{hello.CipherSuite:x4}.");
        }

        if (hello.IsHelloRetryRequest)
        {
            OnHelloRetryRequest(message, hello);
            return;
        }

        // RFC 8446 §4.1.4: the ServerHello after a HelloRetryRequest keeps its cipher suite.
        if (_retrySuite is { } retrySuite && hello.CipherSuite != retrySuite)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "The ServerHello cipher suite differs from the HelloRetryRequest's.");
        }

        // RFC 8446 §4.2.11: we offered no PSK, so a selected identity is out of range.
        if (hello.SelectedPskIdentity is not null)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "The server selected a PSK that was not offered.");
        }

        // RFC 8446 §9.2: without PSK, the ServerHello must carry key_share.
        if (hello.KeyShare is not { } serverShare)
        {
            throw new TlsAlertException(TlsAlert.MissingExtension, "The ServerHello lacks key_share.");
        }

        // RFC 8446 §4.2.8: the server's share must be in a group we sent a share for.
        ITlsKeyExchange exchange = _keyExchanges.Find(k => (ushort)k.Group == serverShare.Group)
            ?? throw new TlsAlertException(TlsAlert.IllegalParameter, $"The server key_share group 0x{serverShare.Group:x4} was not offered.");

        TlsCipherSuite suite = (TlsCipherSuite)hello.CipherSuite;
        CipherSuite = suite;
        NegotiatedGroup = exchange.Group;
        _transcript.SetHash(suite.Hash());
        _transcript.Append(message);
        byte[] shared = exchange.DeriveSharedSecret(serverShare.KeyExchange);
        DisposeKeyExchanges();

        _keySchedule = new TlsKeySchedule(suite);
        _keySchedule.DeriveHandshakeSecret(shared);
        CryptographicOperations.ZeroMemory(shared);
        (_clientHandshakeSecret, _serverHandshakeSecret) = _keySchedule.DeriveHandshakeTrafficSecrets(_transcript.CurrentHash());
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ClientHandshakeTrafficSecret, _hello.Random, _clientHandshakeSecret);
        TlsKeyLog.Write(_keyLog, TlsKeyLog.ServerHandshakeTrafficSecret, _hello.Random, _serverHandshakeSecret);

        // RFC 9001 §4.1.4: after the ServerHello the client installs Handshake keys both ways.
        _output.AddSecret(EncryptionLevel.Handshake, TlsKeyDirection.Read, suite, _serverHandshakeSecret);
        _output.AddSecret(EncryptionLevel.Handshake, TlsKeyDirection.Write, suite, _clientHandshakeSecret);
        _framer.SwitchLevel(EncryptionLevel.Handshake);
        _state = ClientState.ExpectEncryptedExtensions;
    }

    /// <summary>RFC 8446 §4.1.4: answer a HelloRetryRequest with a second ClientHello.</summary>
    private void OnHelloRetryRequest(byte[] message, ServerHelloMessage retry)
    {
        // RFC 8446 §4.1.4: a second HelloRetryRequest is unexpected_message.
        if (_retrySuite is not null)
        {
            throw new TlsAlertException(TlsAlert.UnexpectedMessage, "A second HelloRetryRequest.");
        }

        // RFC 8446 §4.1.4: a HelloRetryRequest that would not change the ClientHello is illegal_parameter.
        if (retry.SelectedGroup is null && retry.Cookie is null)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, "HelloRetryRequest requests no change.");
        }

        if (retry.SelectedGroup is { } group)
        {
            // RFC 8446 §4.2.8: the group must be in our supported_groups and not one we already sent a share for.
            if (!_hello!.SupportedGroups!.Contains(group) || !TlsKeyExchangeFactory.IsSupported(group)
                || _keyExchanges.Exists(k => (ushort)k.Group == group))
            {
                throw new TlsAlertException(TlsAlert.IllegalParameter, $"HelloRetryRequest selects unacceptable group 0x{group:x4}.");
            }
        }

        _retrySuite = retry.CipherSuite;
        _transcript.SetHash(((TlsCipherSuite)retry.CipherSuite).Hash());

        // RFC 8446 §4.4.1: ClientHello1 becomes message_hash, followed by the HelloRetryRequest.
        _transcript.ReplaceWithMessageHash();
        _transcript.Append(message);

        IReadOnlyList<TlsKeyShareEntry> shares = _hello!.KeyShares!;
        if (retry.SelectedGroup is { } selected)
        {
            DisposeKeyExchanges();
            ITlsKeyExchange exchange = TlsKeyExchangeFactory.Create((TlsNamedGroup)selected);
            _keyExchanges.Add(exchange);
            shares = [new TlsKeyShareEntry(selected, exchange.PublicKey)];
        }

        // RFC 8446 §4.1.2: the same ClientHello with the new key_share and the echoed cookie.
        _hello = new ClientHelloMessage
        {
            Random = _hello.Random,
            LegacySessionId = _hello.LegacySessionId,
            CipherSuites = _hello.CipherSuites,
            ServerName = _hello.ServerName,
            SupportedGroups = _hello.SupportedGroups,
            SignatureAlgorithms = _hello.SignatureAlgorithms,
            KeyShares = shares,
            SupportedVersions = _hello.SupportedVersions,
            ApplicationProtocols = _hello.ApplicationProtocols,
            TransportParameters = _hello.TransportParameters,
            Cookie = retry.Cookie,
        };
        byte[] bytes = _hello.Encode();
        _transcript.Append(bytes);
        _output.AddData(EncryptionLevel.Initial, bytes);
    }
}
