namespace AspNetQuicSteer.Quic.Tls;

/// <summary>
/// NSS key log support: <c>LABEL &lt;client_random hex&gt; &lt;secret hex&gt;</c> lines, appended to the file named
/// by SSLKEYLOGFILE (read once per process) or to an injected sink. Lets Wireshark/tshark decrypt QUIC.
/// </summary>
internal static class TlsKeyLog
{
    public const string ClientHandshakeTrafficSecret = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
    public const string ServerHandshakeTrafficSecret = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
    public const string ClientTrafficSecret0 = "CLIENT_TRAFFIC_SECRET_0";
    public const string ServerTrafficSecret0 = "SERVER_TRAFFIC_SECRET_0";
    public const string ExporterSecret = "EXPORTER_SECRET";

    private static readonly Lazy<ITlsKeyLog?> s_environment = new(CreateFromEnvironment);

    /// <summary>The injected sink if any, else the SSLKEYLOGFILE sink if the variable is set, else null.</summary>
    public static ITlsKeyLog? Resolve(ITlsKeyLog? injected) => injected ?? s_environment.Value;

    public static void Write(ITlsKeyLog? sink, string label, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> secret)
        => sink?.WriteLine($"{label} {Convert.ToHexStringLower(clientRandom)} {Convert.ToHexStringLower(secret)}");

    private static FileKeyLog? CreateFromEnvironment()
    {
        string? path = Environment.GetEnvironmentVariable("SSLKEYLOGFILE");
        return string.IsNullOrEmpty(path) ? null : new FileKeyLog(path);
    }

    /// <summary>Appends lines under a process-wide lock; I/O failures never break a handshake.</summary>
    internal sealed class FileKeyLog : ITlsKeyLog
    {
        private readonly string _path;
        private readonly Lock _lock = new();

        public FileKeyLog(string path)
        {
            _path = path;
        }

        public void WriteLine(string line)
        {
            lock (_lock)
            {
                try
                {
                    File.AppendAllText(_path, line + "\n");
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
    }
}
