using System.Net;
using System.Security.Cryptography;
using AspNetQuicSteer.Quic.Endpoint.Stateless;

namespace AspNetQuicSteer.Quic.Tests.Endpoint;

internal static class StatelessTestData
{
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly PeerAddress Client = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 50000));

    public static readonly PeerAddress ClientOtherPort = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 50001));

    public static readonly PeerAddress OtherClient = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("192.0.2.11"), 50000));

    public static readonly PeerAddress ClientV6 = PeerAddress.FromEndPoint(new IPEndPoint(IPAddress.Parse("2001:db8::10"), 50000));

    public static readonly byte[] OriginalDcid = Convert.FromHexString("8394c8f03e515708");

    public static readonly byte[] RetryScid = Convert.FromHexString("f067a5502a4262b5");

    /// <summary>A distinct 32-byte master secret per seed.</summary>
    public static byte[] Secret(int seed) => SHA256.HashData(BitConverter.GetBytes(seed));

    /// <summary>Two secrets whose derived key ids differ, so "unknown key" is deterministic.</summary>
    public static (byte[] A, byte[] B) SecretsWithDistinctKeyIds()
    {
        byte[] a = Secret(0);
        byte keyIdA = new StatelessKeyRing(a).Current.KeyId;
        for (int seed = 1; ; seed++)
        {
            byte[] b = Secret(seed);
            if (new StatelessKeyRing(b).Current.KeyId != keyIdA)
            {
                return (a, b);
            }
        }
    }

    public static byte[] RetryToken(AddressValidationTokenProtector protector, PeerAddress client, DateTimeOffset now)
    {
        byte[] buffer = new byte[AddressValidationTokenProtector.MaxTokenLength];
        int length = protector.WriteRetryToken(client, OriginalDcid, RetryScid, now, buffer);
        return buffer[..length];
    }

    public static byte[] NewToken(AddressValidationTokenProtector protector, PeerAddress client, DateTimeOffset now)
    {
        byte[] buffer = new byte[AddressValidationTokenProtector.MaxTokenLength];
        int length = protector.WriteNewToken(client, now, buffer);
        return buffer[..length];
    }
}
