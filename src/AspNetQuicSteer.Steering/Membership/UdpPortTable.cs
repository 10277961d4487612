using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace AspNetQuicSteer.Steering.Membership;

/// <summary>
/// Finds UDP sockets on the shared port that belong to no generation, from /proc/net/udp and /proc/net/udp6
/// (proc(5)). A process of the same uid that binds the port with SO_REUSEPORT joins the reuseport group silently; the
/// kernel would then hand it a share of the port's datagrams (hash fallback, or a classic-BPF index that now names
/// its socket). That is one cell of the port-sharing matrix, and it must end in a clear error, not lost packets.
/// </summary>
internal static class UdpPortTable
{
    internal readonly record struct Entry(IPAddress Address, int Port, uint Uid, ulong Inode);

    /// <summary>
    /// Throws <see cref="PortSharingException"/> naming every socket on <paramref name="endPoint"/>'s port that overlaps
    /// its address and is neither <paramref name="own"/> nor held by one of <paramref name="memberPids"/>.
    /// </summary>
    public static void ThrowIfForeignSockets(IPEndPoint endPoint, Socket own, IEnumerable<int> memberPids)
    {
        ulong ownInode = InodeOf((int)own.Handle);
        var memberInodes = new HashSet<ulong> { ownInode };
        foreach (int pid in memberPids) memberInodes.UnionWith(SocketInodesOf(pid));

        List<Entry> foreign = [.. Read().Where(e => e.Port == endPoint.Port && Overlaps(e.Address, endPoint.Address) && !memberInodes.Contains(e.Inode))];
        if (foreign.Count == 0) return;
        throw new PortSharingException(
            $"UDP port {endPoint.Port} has {foreign.Count} socket(s) that belong to no generation of this port: " +
            string.Join(", ", foreign.Select(e => $"{e.Address}:{e.Port} (uid {e.Uid}, inode {e.Inode})")) +
            ". A process of the same user bound it with SO_REUSEPORT, so the kernel would give it part of the port's traffic. " +
            $"Stop it ('ss -uapn sport = :{endPoint.Port}' names it) or use another port.");
    }

    /// <summary>Every UDP socket of the network namespace (IPv4 and IPv6 tables); unreadable tables give nothing.</summary>
    public static List<Entry> Read()
    {
        var entries = new List<Entry>();
        foreach (string table in new[] { "/proc/net/udp", "/proc/net/udp6" })
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines(table);
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            foreach (string line in lines.Skip(1))
            {
                if (TryParse(line, out Entry entry)) entries.Add(entry);
            }
        }

        return entries;
    }

    /// <summary>
    /// One proc(5) line: <c>sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …</c>; addresses
    /// are hex 32-bit words in host (little-endian) order, the port is big hex.
    /// </summary>
    internal static bool TryParse(string line, out Entry entry)
    {
        entry = default;
        string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 10) return false;
        string[] local = fields[1].Split(':');
        if (local.Length != 2 || (local[0].Length != 8 && local[0].Length != 32)) return false;
        if (!int.TryParse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int port)) return false;
        byte[] address = new byte[local[0].Length / 2];
        for (int word = 0; word < address.Length / 4; word++)
        {
            if (!uint.TryParse(local[0].AsSpan(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint value)) return false;
            BitConverter.TryWriteBytes(address.AsSpan(word * 4, 4), value); // host order, as the kernel printed it
        }

        if (!uint.TryParse(fields[7], NumberStyles.Integer, CultureInfo.InvariantCulture, out uint uid)) return false;
        if (!ulong.TryParse(fields[9], NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong inode)) return false;
        entry = new Entry(new IPAddress(address), port, uid, inode);
        return true;
    }

    /// <summary>Whether a socket bound to <paramref name="other"/> takes datagrams meant for <paramref name="ours"/> (equal, or a wildcard of either).</summary>
    internal static bool Overlaps(IPAddress other, IPAddress ours)
    {
        IPAddress a = other.IsIPv4MappedToIPv6 ? other.MapToIPv4() : other;
        IPAddress b = ours.IsIPv4MappedToIPv6 ? ours.MapToIPv4() : ours;
        if (a.Equals(b)) return true;
        bool aAny = a.Equals(IPAddress.Any) || a.Equals(IPAddress.IPv6Any);
        bool bAny = b.Equals(IPAddress.Any) || b.Equals(IPAddress.IPv6Any);
        if (a.Equals(IPAddress.IPv6Any) || b.Equals(IPAddress.IPv6Any)) return true; // dual-mode [::] covers both families
        return (aAny || bAny) && a.AddressFamily == b.AddressFamily;
    }

    private static ulong InodeOf(int fd) => ParseSocketLink($"/proc/self/fd/{fd}") ?? 0;

    private static IEnumerable<ulong> SocketInodesOf(int pid)
    {
        string[] fds;
        try
        {
            fds = Directory.GetFiles($"/proc/{pid}/fd");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (string fd in fds)
        {
            if (ParseSocketLink(fd) is { } inode) yield return inode;
        }
    }

    /// <summary>proc(5): a socket's /proc/[pid]/fd link reads <c>socket:[inode]</c>.</summary>
    private static ulong? ParseSocketLink(string path)
    {
        try
        {
            string? target = new FileInfo(path).LinkTarget;
            if (target is null || !target.StartsWith("socket:[", StringComparison.Ordinal) || !target.EndsWith(']')) return null;
            return ulong.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong inode) ? inode : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
