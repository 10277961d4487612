using System.Net;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Steering.Tests.Coordination;

/// <summary>The coordinator is Linux-only (SOCK_SEQPACKET, SO_PEERCRED, statx).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ControlSocketPathTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("qsteer-path-");

    public void Dispose() => _temp.Delete(recursive: true);

    private static IPEndPoint Ep(string address, int port) => new(IPAddress.Parse(address), port);

    [Theory]
    [InlineData("/srv/override", null, 1000u, "/srv/override/127.0.0.1_5443.sock")]
    [InlineData("/srv/override", "/run/user/1000", 1000u, "/srv/override/127.0.0.1_5443.sock")]
    [InlineData(null, "/run/user/1000", 1000u, "/run/user/1000/aspnetquicsteer/127.0.0.1_5443.sock")]
    [InlineData(null, "/run/user/0", 0u, "/run/user/0/aspnetquicsteer/127.0.0.1_5443.sock")]
    [InlineData(null, null, 0u, "/run/aspnetquicsteer/127.0.0.1_5443.sock")]
    [InlineData(null, "", 0u, "/run/aspnetquicsteer/127.0.0.1_5443.sock")]
    [InlineData(null, null, 1000u, "/tmp/aspnetquicsteer-1000/127.0.0.1_5443.sock")]
    [InlineData(null, "relative/dir", 1000u, "/tmp/aspnetquicsteer-1000/127.0.0.1_5443.sock")]
    public void Directory_rules(string? overrideDirectory, string? xdg, uint euid, string expected)
        => Assert.Equal(expected, ControlSocketPath.Compute(Ep("127.0.0.1", 5443), overrideDirectory, xdg, euid));

    [Theory]
    [InlineData("127.0.0.1", 443, "127.0.0.1_443.sock")]
    [InlineData("0.0.0.0", 5443, "0.0.0.0_5443.sock")]
    [InlineData("::1", 5443, "--1_5443.sock")]
    [InlineData("::", 5443, "--_5443.sock")]
    [InlineData("2001:db8::42:1", 65535, "2001-db8--42-1_65535.sock")]
    [InlineData("fe80::1%2", 443, "fe80--1@2_443.sock")]
    [InlineData("::ffff:127.0.0.1", 443, "--ffff-127.0.0.1_443.sock")]
    public void File_names_have_no_colons(string address, int port, string expected)
    {
        Assert.Equal(expected, ControlSocketPath.FileName(Ep(address, port)));
        Assert.DoesNotContain(':', expected);
    }

    [Fact]
    public void A_path_longer_than_sun_path_is_a_clear_error_and_107_bytes_fit()
    {
        const string file = "/127.0.0.1_5443.sock"; // 20 bytes
        string fits = "/" + new string('d', 107 - file.Length - 1);
        Assert.Equal(107, ControlSocketPath.Compute(Ep("127.0.0.1", 5443), fits, null, 0).Length);

        var e = Assert.Throws<InvalidOperationException>(() => ControlSocketPath.Compute(Ep("127.0.0.1", 5443), fits + "d", null, 0));
        Assert.Contains("108 bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("at most 107", e.Message, StringComparison.Ordinal);
        Assert.Contains("sun_path", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void For_creates_a_missing_directory_with_mode_0700()
    {
        string directory = Path.Combine(_temp.FullName, "a", "b");
        string path = ControlSocketPath.For(Ep("127.0.0.1", 5443), directory);
        Assert.Equal(Path.Combine(directory, "127.0.0.1_5443.sock"), path);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
    }

    [Fact]
    public void A_default_directory_of_another_uid_is_refused()
    {
        string directory = Path.Combine(_temp.FullName, "foreign");
        Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        uint owner = CoordinatorInterop.EffectiveUid;
        var e = Assert.Throws<InvalidOperationException>(() => ControlSocketPath.EnsureDirectory(directory, owner + 1, strict: true));
        Assert.Contains($"belongs to uid {owner}, not to this process's uid {owner + 1}", e.Message, StringComparison.Ordinal);
        ControlSocketPath.EnsureDirectory(directory, owner + 1, strict: false); // an override directory is the operator's choice
    }

    [Fact]
    public void A_default_directory_writable_by_others_is_refused()
    {
        string directory = Path.Combine(_temp.FullName, "open");
        Directory.CreateDirectory(directory);
        File.SetUnixFileMode(directory, (UnixFileMode)0b111_111_111);
        var e = Assert.Throws<InvalidOperationException>(() => ControlSocketPath.EnsureDirectory(directory, CoordinatorInterop.EffectiveUid, strict: true));
        Assert.Contains("writable by group or others (mode 777)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_symlink_or_a_file_in_place_of_the_directory_is_refused()
    {
        string target = Path.Combine(_temp.FullName, "target");
        Directory.CreateDirectory(target);
        string link = Path.Combine(_temp.FullName, "link");
        Directory.CreateSymbolicLink(link, target);
        Assert.Throws<InvalidOperationException>(() => ControlSocketPath.EnsureDirectory(link, CoordinatorInterop.EffectiveUid, strict: true));
        Assert.Throws<InvalidOperationException>(() => ControlSocketPath.EnsureDirectory(link, CoordinatorInterop.EffectiveUid, strict: false));

        string file = Path.Combine(_temp.FullName, "file");
        File.WriteAllText(file, "x");
        Assert.Contains("not a directory", Assert.Throws<InvalidOperationException>(() => ControlSocketPath.EnsureDirectory(file, 0, strict: false)).Message, StringComparison.Ordinal);
    }
}
