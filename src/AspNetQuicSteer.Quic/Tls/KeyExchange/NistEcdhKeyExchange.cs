using System.Security.Cryptography;

namespace AspNetQuicSteer.Quic.Tls.KeyExchange;

/// <summary>
/// ECDHE over secp256r1 / secp384r1 with the in-box ECDiffieHellman. Key shares are uncompressed points
/// (0x04 || X || Y, RFC 8446 §4.2.8.2); the shared secret is the x-coordinate (RFC 8446 §7.4.2).
/// </summary>
internal sealed class NistEcdhKeyExchange : ITlsKeyExchange
{
    private readonly ECDiffieHellman _ecdh;
    private readonly ECCurve _curve;
    private readonly int _coordinateLength;

    public NistEcdhKeyExchange(TlsNamedGroup group)
    {
        Group = group;
        (_curve, _coordinateLength) = group switch
        {
            TlsNamedGroup.Secp256r1 => (ECCurve.NamedCurves.nistP256, 32),
            TlsNamedGroup.Secp384r1 => (ECCurve.NamedCurves.nistP384, 48),
            _ => throw new ArgumentOutOfRangeException(nameof(group)),
        };
        _ecdh = ECDiffieHellman.Create(_curve);
        ECParameters p = _ecdh.ExportParameters(false);
        PublicKey = new byte[1 + (2 * _coordinateLength)];
        PublicKey[0] = 4;
        p.Q.X!.CopyTo(PublicKey, 1);
        p.Q.Y!.CopyTo(PublicKey, 1 + _coordinateLength);
    }

    public TlsNamedGroup Group { get; }

    public byte[] PublicKey { get; }

    public byte[] DeriveSharedSecret(ReadOnlySpan<byte> peerPublicKey)
    {
        // RFC 8446 §4.2.8.2: only the uncompressed form (legacy_form = 4) is valid, at exactly the curve's size.
        if (peerPublicKey.Length != 1 + (2 * _coordinateLength) || peerPublicKey[0] != 4)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"Invalid {Group} key share encoding.");
        }

        ECParameters parameters = new()
        {
            Curve = _curve,
            Q = new ECPoint
            {
                X = peerPublicKey.Slice(1, _coordinateLength).ToArray(),
                Y = peerPublicKey.Slice(1 + _coordinateLength, _coordinateLength).ToArray(),
            },
        };

        try
        {
            // RFC 8446 §4.2.8.2: the peer point MUST be validated; ImportParameters rejects points not on the curve.
            using ECDiffieHellman peer = ECDiffieHellman.Create(parameters);
            return _ecdh.DeriveRawSecretAgreement(peer.PublicKey);
        }
        catch (CryptographicException e)
        {
            throw new TlsAlertException(TlsAlert.IllegalParameter, $"{Group} key share is not a valid curve point.", e);
        }
    }

    public void Dispose() => _ecdh.Dispose();
}
