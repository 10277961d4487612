namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>
/// Our quic-go 0.29 handshake client (test/interop/go/src/quicsteer/handshake): its command line and output.
/// Exit 0 after "HANDSHAKE_OK ..." (+ "PEER_TP ...", then "CLOSED code=0x0" or, with -hold, "PEER_CLOSED ...");
/// exit 1 after "HANDSHAKE_FAILED &lt;error&gt;"; exit 2 on bad flags. Its ClientHello offers an x25519 key
/// share only (supported_groups x25519, P-256, P-384, P-521).
/// </summary>
internal static class GoHandshakeClient
{
    public const string SuccessPrefix = "HANDSHAKE_OK ";
    public const string FailurePrefix = "HANDSHAKE_FAILED ";
    public const string PeerTransportParametersPrefix = "PEER_TP ";
    public const string PeerClosedPrefix = "PEER_CLOSED ";
    public const string ClosedPrefix = "CLOSED ";

    /// <summary>
    /// Arguments for one handshake. <paramref name="trustedCaPemPath"/> null means -insecure (no certificate
    /// verification). <paramref name="curves"/>: e.g. "p256" or "x25519,p256". <paramref name="hold"/>: wait that
    /// long after the handshake for the server to close the connection.
    /// </summary>
    public static IReadOnlyList<string> Arguments(
        string address,
        string? trustedCaPemPath,
        string alpn = "h3",
        string sni = TestCertificates.CommonName,
        TimeSpan? timeout = null,
        string? curves = null,
        string? ciphers = null,
        TimeSpan? hold = null)
    {
        List<string> arguments = ["-addr", address, "-alpn", alpn, "-sni", sni];
        arguments.AddRange(trustedCaPemPath is null ? ["-insecure"] : ["-ca", trustedCaPemPath]);
        arguments.AddRange(["-timeout", GoDuration(timeout ?? TimeSpan.FromSeconds(5))]);
        if (curves is not null)
        {
            arguments.AddRange(["-curves", curves]);
        }

        if (ciphers is not null)
        {
            arguments.AddRange(["-ciphers", ciphers]);
        }

        if (hold is not null)
        {
            arguments.AddRange(["-hold", GoDuration(hold.Value)]);
        }

        return arguments;
    }

    /// <summary>The key=value fields of a result line, e.g. "HANDSHAKE_OK alpn=h3 version=0x00000001 ...".</summary>
    public static IReadOnlyDictionary<string, string> ParseFields(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        Dictionary<string, string> fields = new(StringComparer.Ordinal);
        foreach (string token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            int equals = token.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                fields[token[..equals]] = token[(equals + 1)..];
            }
        }

        return fields;
    }

    private static string GoDuration(TimeSpan value) =>
        FormattableString.Invariant($"{(long)value.TotalMilliseconds}ms");
}
