using System.Globalization;
using System.Net;
using System.Net.Security;
using AspNetQuicSteer.Quic.Crypto;
using AspNetQuicSteer.Quic.Tls;
using TlsCipherSuite = AspNetQuicSteer.Quic.Crypto.TlsCipherSuite;

namespace QuicHandshakeHarness;

/// <summary>Command line of the harness. Unknown arguments are an error, so typos never pass silently.</summary>
internal sealed class HarnessOptions
{
    public IPAddress Address { get; private set; } = IPAddress.Loopback;

    public int Port { get; private set; } = 4433;

    public string? CertificatePath { get; private set; }

    public string? KeyPath { get; private set; }

    public List<SslApplicationProtocol> ApplicationProtocols { get; } = [];

    /// <summary>Key-exchange groups the server accepts, in preference order (empty = library default).</summary>
    public List<TlsNamedGroup> Groups { get; } = [];

    /// <summary>Cipher suites the server accepts, in preference order (empty = library default).</summary>
    public List<TlsCipherSuite> CipherSuites { get; } = [];

    /// <summary>Stop after this many completed handshakes (0 = never).</summary>
    public int ExitAfterHandshakes { get; private set; }

    /// <summary>Hard upper bound on the run time (0 = until Ctrl+C).</summary>
    public TimeSpan Timeout { get; private set; }

    /// <summary>Serve hq-interop (HTTP/0.9) from this directory; connections then stay open until the peer closes.</summary>
    public string? WwwRoot { get; private set; }

    /// <summary>Force a Retry for every new connection (RFC 9000 §8.1.2).</summary>
    public bool Retry { get; private set; }

    /// <summary>
    /// Serve through the batched socket layer (<c>QuicEndpointDriver</c>: recvmmsg/sendmmsg, GSO/GRO, own thread)
    /// instead of the one-datagram-per-syscall <see cref="UdpEndpointDriver"/>.
    /// </summary>
    public bool Batched { get; private set; }

    /// <summary>How long a connection stays open after its handshake completes before we close it.</summary>
    public TimeSpan CloseAfter { get; private set; } = TimeSpan.FromMilliseconds(300);

    public static HarnessOptions Parse(string[] args)
    {
        var options = new HarnessOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--address": options.Address = IPAddress.Parse(Next()); break;
                case "--port": options.Port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--cert": options.CertificatePath = Next(); break;
                case "--key": options.KeyPath = Next(); break;
                case "--alpn":
                    foreach (string alpn in Next().Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        options.ApplicationProtocols.Add(new SslApplicationProtocol(alpn));
                    }

                    break;
                case "--groups":
                    foreach (string group in Next().Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        options.Groups.Add(Enum.Parse<TlsNamedGroup>(group, ignoreCase: true));
                    }

                    break;
                case "--ciphers":
                    foreach (string suite in Next().Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        options.CipherSuites.Add(Enum.Parse<TlsCipherSuite>(suite, ignoreCase: true));
                    }

                    break;
                case "--www": options.WwwRoot = Next(); break;
                case "--retry": options.Retry = true; break;
                case "--batched": options.Batched = true; break;
                case "--exit-after-handshakes": options.ExitAfterHandshakes = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--timeout": options.Timeout = TimeSpan.FromSeconds(double.Parse(Next(), CultureInfo.InvariantCulture)); break;
                case "--close-after-ms": options.CloseAfter = TimeSpan.FromMilliseconds(double.Parse(Next(), CultureInfo.InvariantCulture)); break;
                default: throw new ArgumentException($"Unknown argument '{args[i]}'. See README.md for the harness options.");
            }
        }

        if (options.ApplicationProtocols.Count == 0)
        {
            options.ApplicationProtocols.Add(SslApplicationProtocol.Http3);
            options.ApplicationProtocols.Add(new SslApplicationProtocol("hq-interop"));
        }

        if ((options.CertificatePath is null) != (options.KeyPath is null))
        {
            throw new ArgumentException("--cert and --key go together.");
        }

        return options;
    }
}
