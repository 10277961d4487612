using System.Net;
using System.Net.Sockets;
using AspNetQuicSteer.Quic.Tests.Packets;
using AspNetQuicSteer.Steering.Forwarding;
using CsCheck;

namespace AspNetQuicSteer.Steering.Tests.Forwarding;

public sealed class ForwardedDatagramTests
{
    private static readonly ForwardedDatagramHeader V4 = ForwardedDatagramHeader.Create(
        new IPEndPoint(IPAddress.Parse("192.0.2.7"), 50123), new IPEndPoint(IPAddress.Parse("198.51.100.1"), 443), interfaceIndex: 3, ecn: 2);

    private static readonly ForwardedDatagramHeader V6 = ForwardedDatagramHeader.Create(
        new IPEndPoint(IPAddress.Parse("2001:db8::1"), 1), new IPEndPoint(IPAddress.Parse("2001:db8::443"), 443), interfaceIndex: 0x01020304, ecn: 3);

    private static readonly ForwardedDatagramHeader NoLocal = ForwardedDatagramHeader.Create(
        new IPEndPoint(IPAddress.Parse("::ffff:192.0.2.9"), 65535), null);

    private static byte[] Encode(ForwardedDatagramHeader header, byte[] payload)
    {
        var buffer = new byte[ForwardedDatagram.GetLength(payload.Length)];
        Assert.True(ForwardedDatagram.TryWrite(buffer, header, payload, out int written));
        Assert.Equal(buffer.Length, written);
        return buffer;
    }

    [Fact]
    public void The_layout_is_pinned_by_a_golden_vector()
    {
        byte[] message = Encode(V4, [0xC0, 0xFF, 0xEE]);
        byte[] expected =
        [
            0x51, 0x46, 0x01, 0x02, // magic "QF", version 1, flags = ECN ECT(0)
            0x04, 0x04, 0x00, 0x03, // remote IPv4, local IPv4, payload length 3
            0xC3, 0xCB, 0x01, 0xBB, // remote port 50123, local port 443
            0x00, 0x00, 0x00, 0x03, // interface index 3
            192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     // remote address
            198, 51, 100, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // local address
            0xC0, 0xFF, 0xEE,
        ];
        Assert.Equal(expected, message);
    }

    [Fact]
    public void Header_fields_survive_a_round_trip()
    {
        foreach (ForwardedDatagramHeader header in new[] { V4, V6, NoLocal })
        {
            byte[] payload = [1, 2, 3, 4, 5];
            Assert.True(ForwardedDatagram.TryParse(Encode(header, payload), out ForwardedDatagramHeader parsed, out ReadOnlySpan<byte> parsedPayload));
            Assert.Equal(header, parsed);
            Assert.Equal(payload, parsedPayload.ToArray());
        }

        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.7"), 50123), V4.GetRemoteEndPoint());
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.1"), 443), V4.GetLocalEndPoint());
        Assert.Equal(AddressFamily.InterNetworkV6, NoLocal.RemoteFamily); // a v4-mapped peer stays as the socket saw it
        Assert.Null(NoLocal.GetLocalEndPoint());
        Assert.Equal((byte)3, V6.Ecn);
    }

    [Fact]
    public void An_empty_payload_is_allowed()
    {
        Assert.True(ForwardedDatagram.TryParse(Encode(V6, []), out ForwardedDatagramHeader parsed, out ReadOnlySpan<byte> payload));
        Assert.Equal(V6, parsed);
        Assert.True(payload.IsEmpty);
    }

    [Fact]
    public void Random_headers_and_payloads_round_trip() =>
        Gen.Select(Gen.Bool, Gen.Byte.Array[16], Gen.Int[0, 2], Gen.Byte.Array[16], Gen.UShort, Gen.UShort, Gen.UInt, Gen.Byte[0, 3])
            .Select(Gen.Byte.Array[0, 1500], (fields, payload) => (fields, payload))
            .Sample(sample =>
            {
                var ((remoteV6, remoteBytes, localKind, localBytes, remotePort, localPort, ifIndex, ecn), payload) = sample;
                IPAddress remote = remoteV6 ? new IPAddress(remoteBytes) : new IPAddress(remoteBytes.AsSpan(0, 4));
                IPEndPoint? local = localKind switch
                {
                    0 => null,
                    1 => new IPEndPoint(new IPAddress(localBytes.AsSpan(0, 4)), localPort),
                    _ => new IPEndPoint(new IPAddress(localBytes), localPort),
                };
                var header = ForwardedDatagramHeader.Create(new IPEndPoint(remote, remotePort), local, ifIndex, ecn);
                byte[] message = Encode(header, payload);
                Assert.True(ForwardedDatagram.TryParse(message, out ForwardedDatagramHeader parsed, out ReadOnlySpan<byte> parsedPayload));
                Assert.Equal(header, parsed);
                Assert.Equal(payload, parsedPayload.ToArray());
            });

    public static TheoryData<string, byte[]> Malformed()
    {
        byte[] valid = Encode(V4, [9, 9, 9]);
        byte[] With(Action<byte[]> change)
        {
            byte[] copy = (byte[])valid.Clone();
            change(copy);
            return copy;
        }

        byte[] noLocal = Encode(NoLocal, [7]);
        return new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "header only, 47 bytes", valid[..47] },
            { "bad magic 0", With(m => m[0] = 0x52) },
            { "bad magic 1", With(m => m[1] = 0x00) },
            { "version 0", With(m => m[2] = 0) },
            { "version 2", With(m => m[2] = 2) },
            { "reserved flag bit", With(m => m[3] |= 0x04) },
            { "high flag bit", With(m => m[3] |= 0x80) },
            { "remote family 0", With(m => m[4] = 0) },
            { "remote family 5", With(m => m[4] = 5) },
            { "local family 2", With(m => m[5] = 2) },
            { "length field too large", With(m => m[7] = 4) },
            { "length field too small", With(m => m[7] = 2) },
            { "length field high byte", With(m => m[6] = 1) },
            { "message longer than the length field", [.. valid, 0] },
            { "message shorter than the length field", valid[..^1] },
            { "IPv4 remote with padding", With(m => m[20] = 1) },
            { "IPv4 remote with last padding byte", With(m => m[31] = 1) },
            { "IPv4 local with padding", With(m => m[36] = 1) },
            { "an address with no local family", Patch(noLocal, 32, 1) },
            { "last address byte with no local family", Patch(noLocal, 47, 1) },
        };
    }

    private static byte[] Patch(byte[] message, int index, byte value)
    {
        byte[] copy = (byte[])message.Clone();
        copy[index] = value;
        return copy;
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_messages_are_rejected(string why, byte[] message)
    {
        Assert.False(ForwardedDatagram.TryParse(message, out ForwardedDatagramHeader header, out ReadOnlySpan<byte> payload), why);
        Assert.Equal(default, header);
        Assert.True(payload.IsEmpty);
    }

    [Fact]
    public void Writing_fails_without_room_an_oversize_payload_or_a_valid_header()
    {
        byte[] payload = new byte[10];
        Assert.False(ForwardedDatagram.TryWrite(new byte[ForwardedDatagram.GetLength(10) - 1], V4, payload, out int written));
        Assert.Equal(0, written);
        Assert.False(ForwardedDatagram.TryWrite(new byte[ForwardedDatagram.MaxLength + 1], V4, new byte[ForwardedDatagram.MaxPayloadLength + 1], out _));
        Assert.True(ForwardedDatagram.TryWrite(new byte[ForwardedDatagram.MaxLength], V4, new byte[ForwardedDatagram.MaxPayloadLength], out written));
        Assert.Equal(ForwardedDatagram.MaxLength, written);
        Assert.False(default(ForwardedDatagramHeader).IsValid);
        Assert.False(ForwardedDatagram.TryWrite(new byte[100], default, payload, out _));
        Assert.False(ForwardedDatagram.TryWriteHeader(new byte[ForwardedDatagram.HeaderLength - 1], V4, 0));
    }

    [Fact]
    public void Wildcard_local_addresses_mean_unknown()
    {
        var header = ForwardedDatagramHeader.Create(new IPEndPoint(IPAddress.Loopback, 1), new IPEndPoint(IPAddress.Any, 443));
        Assert.Equal(AddressFamily.Unspecified, header.LocalFamily);
        Assert.Equal((ushort)443, header.LocalPort);
        Assert.Equal(0, header.WriteLocalAddress(new byte[16]));
        Assert.Equal(AddressFamily.Unspecified, ForwardedDatagramHeader.Create(new IPEndPoint(IPAddress.IPv6Loopback, 1), new IPEndPoint(IPAddress.IPv6Any, 443)).LocalFamily);
    }

    [Fact]
    public void A_link_local_client_keeps_its_scope_through_the_interface_index()
    {
        var client = new IPEndPoint(IPAddress.Parse("fe80::1%7"), 4433);
        var header = ForwardedDatagramHeader.Create(client, new IPEndPoint(IPAddress.Parse("fe80::2%7"), 443));
        Assert.Equal(7u, header.InterfaceIndex);
        Assert.True(ForwardedDatagram.TryParse(Encode(header, [1]), out ForwardedDatagramHeader parsed, out _));
        Assert.Equal(client, parsed.GetRemoteEndPoint());
        Assert.Equal(7, parsed.GetRemoteEndPoint().Address.ScopeId);
        Assert.Equal(0, V6.GetRemoteEndPoint().Address.ScopeId); // global addresses carry no scope
    }

    [Fact]
    public void Raw_sockaddr_input_matches_endpoint_input()
    {
        // sockaddr_in / sockaddr_in6 as the kernel (and DatagramBatch) hold them: family in host order, port big-endian.
        byte[] v4 = new byte[16];
        BitConverter.TryWriteBytes(v4.AsSpan(0, 2), (ushort)2);
        v4[2] = 0xC3; v4[3] = 0xCB;
        v4[4] = 192; v4[5] = 0; v4[6] = 2; v4[7] = 7;
        Assert.True(ForwardedDatagramHeader.TryCreate(v4, [198, 51, 100, 1], 443, 3, 2, out ForwardedDatagramHeader fromRaw));
        Assert.Equal(V4, fromRaw);

        byte[] v6 = new byte[28];
        BitConverter.TryWriteBytes(v6.AsSpan(0, 2), (ushort)10);
        v6[3] = 1;
        IPAddress.Parse("2001:db8::1").TryWriteBytes(v6.AsSpan(8, 16), out _);
        byte[] local = IPAddress.Parse("2001:db8::443").GetAddressBytes();
        Assert.True(ForwardedDatagramHeader.TryCreate(v6, local, 443, 0x01020304, 3, out fromRaw));
        Assert.Equal(V6, fromRaw);

        byte[] sockaddr = new byte[32];
        Assert.Equal(28, fromRaw.WriteRemoteSockAddr(sockaddr));
        Assert.Equal(v6, sockaddr[..28]);
        Assert.Equal(16, V4.WriteRemoteSockAddr(sockaddr));
        Assert.Equal(v4, sockaddr[..16]);

        Assert.False(ForwardedDatagramHeader.TryCreate(new byte[16], [], 443, 0, 0, out _)); // family 0
        Assert.False(ForwardedDatagramHeader.TryCreate(v4, [1, 2, 3], 443, 0, 0, out _));   // 3-byte address
        Assert.False(ForwardedDatagramHeader.TryCreate(v4, [], 443, 0, 4, out _));          // ECN > 3
    }

    // ---- fuzzing: the bytes come from another process, so nothing may throw ----

    private static void ParseNeverThrows(byte[] message)
    {
        if (ForwardedDatagram.TryParse(message, out ForwardedDatagramHeader header, out ReadOnlySpan<byte> payload))
        {
            // The encoding is canonical: whatever parses re-encodes to the identical bytes.
            Assert.True(header.IsValid);
            byte[] again = new byte[message.Length];
            Assert.True(ForwardedDatagram.TryWrite(again, header, payload, out int written));
            Assert.Equal(message.Length, written);
            Assert.Equal(message, again);
            _ = header.ToString();
        }
        else
        {
            Assert.Equal(default, header);
        }
    }

    [Fact]
    public void Random_bytes_never_throw() => Gen.Byte.Array[0, 120].Sample(ParseNeverThrows, iter: 100_000);

    [Fact]
    public void Random_bytes_behind_a_valid_prefix_never_throw() =>
        Gen.Byte.Array[0, 80].Sample(tail => ParseNeverThrows([0x51, 0x46, 0x01, .. tail]), iter: 100_000);

    [Fact]
    public void Mutated_valid_messages_never_throw() =>
        Mutations.Of(Encode(V4, [1, 2, 3]), Encode(V6, []), Encode(NoLocal, new byte[40]))
            .Sample(ParseNeverThrows, iter: 100_000);
}
