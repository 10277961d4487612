using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Wire;

namespace AspNetQuicSteer.Quic.Connection;

/// <summary>1-RTT key update, RFC 9001 §6. The header protection key never changes (§6); only the AEAD keys do.</summary>
internal sealed partial class QuicConnection
{
    /// <summary>The key phase bit of the 1-RTT keys we currently send with (RFC 9001 §6).</summary>
    private int _keyPhase;

    /// <summary>Read keys of the next phase, derived ahead of time so an update costs no derivation on receipt (§6.3).</summary>
    private PacketProtectionKeys? _nextReadKeys;

    /// <summary>Read keys of the previous phase, kept for reordered packets until three PTOs after the update (§6.5).</summary>
    private PacketProtectionKeys? _previousReadKeys;

    private TimeSpan _previousReadKeysDiscardAt;

    /// <summary>Lowest packet number received in the current read phase; older packets use the previous keys (§6.5).</summary>
    private ulong _currentReadPhaseFirstPacket;

    public int KeyUpdates { get; private set; }

    public int KeyPhase => _keyPhase;

    /// <summary>
    /// Starts a key update (RFC 9001 §6.1). Allowed once the handshake is confirmed and a packet of the current
    /// phase was acknowledged; returns false otherwise.
    /// </summary>
    public bool InitiateKeyUpdate()
    {
        PacketNumberSpace app = Space(PacketNumberSpaceId.Application);
        if (!IsHandshakeConfirmed || app.WriteKeys is null || app.ReadKeys is null || !CurrentWritePhaseAcknowledged(app))
        {
            return false;
        }

        RotateWriteKeys(app);
        return true;
    }

    private static bool CurrentWritePhaseAcknowledged(PacketNumberSpace app)
        => app.LargestAcknowledged is { } acked && acked >= app.FirstPacketOfWritePhase;

    private void RotateWriteKeys(PacketNumberSpace app)
    {
        PacketProtectionKeys next = app.WriteKeys!.NextKeyPhase();
        app.WriteKeys.Dispose();
        app.WriteKeys = next;
        app.FirstPacketOfWritePhase = app.NextPacketNumber;
        _keyPhase ^= 1;
        KeyUpdates++;
        _nextReadKeys ??= app.ReadKeys!.NextKeyPhase();
    }

    /// <summary>
    /// Chooses the AEAD keys for a 1-RTT packet by its key phase bit (RFC 9001 §6.3, §6.5): the current phase, the
    /// previous phase for packets older than the update, or the next phase for a peer-initiated update.
    /// </summary>
    private PacketProtectionKeys SelectOneRttReadKeys(PacketNumberSpace app, byte unprotectedFirstByte, ulong packetNumber, out bool isNextPhase)
    {
        isNextPhase = false;
        int phase = (unprotectedFirstByte & PacketProtectionKeys.KeyPhaseBit) != 0 ? 1 : 0;
        PacketProtectionKeys current = app.ReadKeys!;
        if (phase == current.KeyPhase % 2) return current;

        if (_previousReadKeys is not null && packetNumber < _currentReadPhaseFirstPacket)
        {
            return _previousReadKeys;
        }

        isNextPhase = true;
        return _nextReadKeys ??= current.NextKeyPhase();
    }

    /// <summary>A packet authenticated with the next phase's keys: the read side moves to that phase (RFC 9001 §6.2).</summary>
    private void OnNextReadPhaseConfirmed(TimeSpan now, PacketNumberSpace app, ulong packetNumber)
    {
        if (!IsHandshakeConfirmed)
        {
            // RFC 9001 §6.1: a key update before the handshake is confirmed is a KEY_UPDATE_ERROR.
            throw new QuicProtocolException(TransportErrorCode.KeyUpdateError, "Key update before the handshake was confirmed.");
        }

        _previousReadKeys?.Dispose();
        _previousReadKeys = app.ReadKeys;
        _previousReadKeysDiscardAt = now + 3 * _rtt.ProbeTimeout(PeerMaxAckDelay);
        app.ReadKeys = _nextReadKeys;
        _nextReadKeys = null;
        _currentReadPhaseFirstPacket = packetNumber;

        if (app.ReadKeys!.KeyPhase % 2 != _keyPhase)
        {
            // The peer initiated: answer by updating our send keys too (RFC 9001 §6.2).
            RotateWriteKeys(app);
        }
    }

    private void DiscardPreviousReadKeysIfDue(TimeSpan now)
    {
        if (_previousReadKeys is not null && now >= _previousReadKeysDiscardAt)
        {
            _previousReadKeys.Dispose();
            _previousReadKeys = null;
        }
    }

    private void DisposeKeyUpdateState()
    {
        _nextReadKeys?.Dispose();
        _previousReadKeys?.Dispose();
    }
}
