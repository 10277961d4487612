using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AspNetQuicSteer.Steering.Coordination;

/// <summary>
/// Where the control socket of one UDP endpoint lives. Every generation of an app bound to the same address and
/// port derives the same path, which is how they find each other:
/// <list type="bullet">
/// <item><c>&lt;override&gt;/&lt;addr&gt;_&lt;port&gt;.sock</c> when an override directory is configured;</item>
/// <item><c>$XDG_RUNTIME_DIR/aspnetquicsteer/…</c> when XDG_RUNTIME_DIR is set (absolute; the per-user runtime
/// directory, already 0700 and owned by the user);</item>
/// <item><c>/run/aspnetquicsteer/…</c> for root;</item>
/// <item><c>/tmp/aspnetquicsteer-&lt;uid&gt;/…</c> otherwise.</item>
/// </list>
/// Directories this code creates get mode 0700. A default directory that already exists must be a real directory
/// (not a symlink) owned by this uid and not writable by group or others, so another local user cannot pre-create
/// <c>/tmp/aspnetquicsteer-1000</c> and capture the socket. The path must fit <c>sun_path</c>: unix(7) gives
/// <c>char sun_path[108]</c> on Linux, and a portable pathname is NUL-terminated inside it, so at most 107 bytes.
/// </summary>
internal static class ControlSocketPath
{
    /// <summary>unix(7): sun_path is 108 bytes on Linux, including the terminating NUL.</summary>
    public const int MaxPathBytes = 107;

    public const string DirectoryName = "aspnetquicsteer";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>
    /// The control socket path for <paramref name="udpEndPoint"/>, with its directory created (0700) or validated.
    /// Throws <see cref="InvalidOperationException"/> with the reason when the path is too long or the directory is
    /// unsafe.
    /// </summary>
    public static string For(IPEndPoint udpEndPoint, string? overrideDirectory)
    {
        uint euid = CoordinatorInterop.EffectiveUid;
        string path = Compute(udpEndPoint, overrideDirectory, Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR"), euid);
        EnsureDirectory(Path.GetDirectoryName(path)!, euid, strict: string.IsNullOrEmpty(overrideDirectory));
        return path;
    }

    /// <summary>The path alone (no file system access): the rules of <see cref="For"/> with the environment passed in.</summary>
    public static string Compute(IPEndPoint udpEndPoint, string? overrideDirectory, string? xdgRuntimeDirectory, uint euid)
    {
        ArgumentNullException.ThrowIfNull(udpEndPoint);
        string directory;
        if (!string.IsNullOrEmpty(overrideDirectory))
        {
            directory = Path.GetFullPath(overrideDirectory);
        }
        else if (!string.IsNullOrEmpty(xdgRuntimeDirectory) && Path.IsPathRooted(xdgRuntimeDirectory))
        {
            // XDG Base Directory spec: a relative XDG_RUNTIME_DIR is invalid and must be ignored.
            directory = Path.Combine(xdgRuntimeDirectory, DirectoryName);
        }
        else if (euid == 0)
        {
            directory = Path.Combine("/run", DirectoryName);
        }
        else
        {
            directory = Path.Combine("/tmp", $"{DirectoryName}-{euid.ToString(CultureInfo.InvariantCulture)}");
        }

        string path = Path.Combine(directory, FileName(udpEndPoint));
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxPathBytes)
        {
            throw new InvalidOperationException(
                $"The control socket path '{path}' is {bytes} bytes; an AF_UNIX socket path holds at most {MaxPathBytes} " +
                "(unix(7): sun_path[108] including the terminating NUL). Configure a shorter control socket directory.");
        }

        return path;
    }

    /// <summary>
    /// <c>&lt;addr&gt;_&lt;port&gt;.sock</c>: IPv4 as dotted quad, IPv6 in its RFC 5952 text form with ':' turned into
    /// '-' (colons are legal in file names but confuse tools that split on them), a scope as '@scope', and any other
    /// byte outside [A-Za-z0-9.-] as '_'. An IPv4-mapped IPv6 address stays IPv6: it is a different socket.
    /// </summary>
    public static string FileName(IPEndPoint udpEndPoint)
    {
        ArgumentNullException.ThrowIfNull(udpEndPoint);
        string address = udpEndPoint.Address.AddressFamily == AddressFamily.InterNetworkV6
            ? udpEndPoint.Address.ToString().Replace(':', '-').Replace('%', '@')
            : udpEndPoint.Address.ToString();
        var name = new StringBuilder(address.Length + 12);
        foreach (char c in address)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '@' ? c : '_');
        }

        return name.Append('_').Append(udpEndPoint.Port.ToString(CultureInfo.InvariantCulture)).Append(".sock").ToString();
    }

    /// <summary>
    /// Creates <paramref name="directory"/> with mode 0700 when missing, then checks it is a directory and not a
    /// symlink; with <paramref name="strict"/> (the derived default directories) also that it is owned by
    /// <paramref name="euid"/> and not writable by group or others. An operator-chosen directory is trusted as to
    /// ownership and mode (the socket file itself is still 0600 and peers are still checked with SO_PEERCRED).
    /// </summary>
    public static void EnsureDirectory(string directory, uint euid, bool strict)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("The generation coordinator needs Linux.");
        if (CoordinatorInterop.TryStat(directory) is null)
        {
            Directory.CreateDirectory(directory, OwnerOnly);
            File.SetUnixFileMode(directory, OwnerOnly); // mkdir(2) applies the umask; state the mode explicitly
        }

        (uint owner, int mode) = CoordinatorInterop.TryStat(directory)
            ?? throw new InvalidOperationException($"The control socket directory {directory} vanished while being created.");
        if ((mode & CoordinatorInterop.S_IFMT) != CoordinatorInterop.S_IFDIR)
        {
            throw new InvalidOperationException($"The control socket directory {directory} is not a directory (a symlink or a file is refused).");
        }

        if (!strict) return;
        if (owner != euid)
        {
            throw new InvalidOperationException(
                $"The control socket directory {directory} belongs to uid {owner}, not to this process's uid {euid}; refusing to use it. " +
                "Remove it or configure another control socket directory.");
        }

        if ((mode & 0b000_010_010) != 0)
        {
            throw new InvalidOperationException(
                $"The control socket directory {directory} is writable by group or others (mode {Convert.ToString(mode & 0xFFF, 8)}); expected 0700.");
        }
    }
}
