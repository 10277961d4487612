using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using AspNetQuicSteer.Quic.TransportParameters;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;


internal sealed partial class QuicConnection
{
    /// <summary>
    /// Server: supplies the TLS configuration an application chose asynchronously after the ClientHello
    /// (<see cref="TlsServerHandshake.ClientHelloInfo"/>: SNI and offered ALPN), and continues the handshake. A
    /// configuration TLS rejects (no common ALPN, no usable certificate) closes the connection with CRYPTO_ERROR
    /// (RFC 9001 §4.8) and returns false; so does a connection that already closed while the application chose.
    /// Build <paramref name="options"/> with <see cref="EncodedLocalTransportParameters"/>.
    /// </summary>
    public bool TryConfigureServerTls(TimeSpan now, TlsServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_tls is not TlsServerHandshake server) throw new InvalidOperationException("Only a server connection takes a TLS server configuration.");
        if (State is QuicConnectionState.Closing or QuicConnectionState.Draining or QuicConnectionState.Closed) return false;
        try
        {
            server.SetServerConfiguration(options);
            DrainTls();
            return true;
        }
        catch (TlsAlertException ex)
        {
            CloseWithError(now, isApplication: false, (ulong)ex.TransportErrorCode, 0x06, ex.Message);
            return false;
        }
        catch (QuicProtocolException ex)
        {
            CloseWithError(now, isApplication: false, (ulong)ex.ErrorCode, ex.FrameType, ex.Message);
            return false;
        }
    }

    /// <summary>Closes a server connection whose TLS configuration could not be chosen (RFC 9001 §4.8, internal_error alert 80).</summary>
    public void AbortHandshake(TimeSpan now, string reason)
        => CloseWithError(now, isApplication: false, 0x100 + (ulong)TlsAlert.InternalError, 0x06, reason);

    /// <summary>Feeds newly contiguous CRYPTO bytes of a space to TLS and collects what TLS produced.</summary>
    private void DeliverCryptoData(PacketNumberSpace space, EncryptionLevel level)
    {
        ReadOnlySpan<byte> ready = space.CryptoReceive.Contiguous;
        if (ready.IsEmpty) return;
        int length = ready.Length;
        _tls.ReadHandshake(level, ready);
        space.CryptoReceive.Consume(length);
        DrainTls();
    }

    /// <summary>
    /// Installs the secrets TLS released, then queues its handshake bytes (RFC 9001 §4.1.4: keys are installed
    /// before data that needs them is sent).
    /// </summary>
    private void DrainTls()
    {
        while (_tls.TryGetSecret(out TlsTrafficSecret secret))
        {
            PacketNumberSpace space = Space(secret.Level.ToSpace());
            if (secret.Level == EncryptionLevel.ZeroRtt) continue; // 0-RTT is not offered yet.
            var keys = PacketProtectionKeys.Create(secret.CipherSuite, secret.Secret, _integrity);
            if (secret.Direction == TlsKeyDirection.Read)
            {
                space.ReadKeys?.Dispose();
                space.ReadKeys = keys;
            }
            else
            {
                space.WriteKeys?.Dispose();
                space.WriteKeys = keys;
            }
        }

        while (_tls.TryGetHandshakeData(out EncryptionLevel level, out ReadOnlyMemory<byte> data))
        {
            Space(level.ToSpace()).CryptoSend.Append(data.Span);
        }

        if (!IsHandshakeComplete && _tls.IsHandshakeComplete)
        {
            OnHandshakeComplete();
        }
    }

    private void OnHandshakeComplete()
    {
        ReadOnlyMemory<byte>? peerParameters = _tls.PeerTransportParameters;
        if (peerParameters is null)
        {
            // RFC 9001 §8.2: a handshake without quic_transport_parameters fails with missing_extension.
            throw new TlsAlertException(TlsAlert.MissingExtension, "The peer sent no quic_transport_parameters.");
        }

        PeerTransportParameters ??= QuicTransportParameters.Decode(peerParameters.Value.Span, sentByServer: IsClient);
        ValidatePeerConnectionIds(PeerTransportParameters);
        if (_options.ValidatePeerTransportParameters?.Invoke(peerParameters.Value) is { } refusal) throw refusal;
        _streams.ApplyPeerTransportParameters(PeerTransportParameters);
        IsHandshakeComplete = true;
        State = QuicConnectionState.Connected;
        _events.Enqueue(new QuicConnectionEvent(QuicConnectionEventKind.HandshakeCompleted));

        if (IsClient && PeerTransportParameters.StatelessResetToken is { } serverToken)
        {
            // RFC 9000 §10.3: the server's token for the handshake connection ID (sequence 0).
            _remoteIds[0].ResetToken = serverToken;
            _connectionIdChanges.Enqueue(new ConnectionIdChange(ConnectionIdChangeKind.PeerResetTokenAdded, _remoteIds[0].Id, serverToken));
        }

        IssueConnectionIds();

        if (!IsClient)
        {
            // RFC 9001 §4.1.2: the server's handshake is confirmed when it completes; it sends HANDSHAKE_DONE
            // and discards its Handshake keys (§4.9.2).
            _handshakeDonePending = true;
            ConfirmHandshake();
        }
    }

    private void ConfirmHandshake()
    {
        if (IsHandshakeConfirmed) return;
        IsHandshakeConfirmed = true;
        IssueNewToken();
        DiscardSpace(PacketNumberSpaceId.Initial);
        DiscardSpace(PacketNumberSpaceId.Handshake);
        _events.Enqueue(new QuicConnectionEvent(QuicConnectionEventKind.HandshakeConfirmed));
    }

    /// <summary>RFC 9000 §7.3: the CIDs seen on the wire must match what the peer authenticated in its transport parameters.</summary>
    private void ValidatePeerConnectionIds(QuicTransportParameters peer)
    {
        if (peer.InitialSourceConnectionId is not { } initialSource || !initialSource.Equals(RemoteConnectionIdAtHandshake))
        {
            throw new QuicProtocolException(TransportErrorCode.TransportParameterError,
                "initial_source_connection_id is missing or does not match the Source Connection ID the peer used.");
        }

        if (IsClient)
        {
            if (peer.OriginalDestinationConnectionId is not { } original || !original.Equals(OriginalDestinationConnectionId))
            {
                throw new QuicProtocolException(TransportErrorCode.TransportParameterError,
                    "original_destination_connection_id is missing or does not match the client's first Destination Connection ID.");
            }

            // RFC 9000 §7.3: retry_source_connection_id is present exactly when we followed a Retry, and matches it.
            if (!Nullable.Equals(peer.RetrySourceConnectionId, _retrySourceConnectionId))
            {
                throw new QuicProtocolException(TransportErrorCode.TransportParameterError,
                    "retry_source_connection_id does not match the Retry this client followed (or its absence).");
            }
        }
    }

    /// <summary>The peer's SCID from its first long-header packet (what initial_source_connection_id must match).</summary>
    private ConnectionId RemoteConnectionIdAtHandshake { get; set; }
}
