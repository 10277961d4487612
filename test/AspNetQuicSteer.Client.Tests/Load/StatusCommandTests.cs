using System.Net;
using System.Text.Json;
using AspNetQuicSteer.LoadTool;
using AspNetQuicSteer.Steering;
using AspNetQuicSteer.Steering.Coordination;

namespace AspNetQuicSteer.Client.Tests.Load;

/// <summary><c>quicsteer-load status</c>: the status view of a real coordinator on a Unix socket.</summary>
public sealed class StatusCommandTests
{
    [Fact]
    public async Task Prints_the_generation_table_as_text_and_json()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The generation coordinator is Linux-only.");
        string directory = Directory.CreateTempSubdirectory("qsl-status-").FullName;
        try
        {
            var endPoint = new IPEndPoint(IPAddress.Loopback, 40999);
            await using CoordinatorMembership membership = await GenerationCoordinator.ConnectOrHostAsync(
                ControlSocketPath.For(endPoint, directory), null, TestContext.Current.CancellationToken);
            await membership.Client.JoinAsync("shop", TestContext.Current.CancellationToken);
            await membership.Client.ReadyAsync(TestContext.Current.CancellationToken);
            await membership.Client.ActivateAsync(TestContext.Current.CancellationToken);
            await membership.Client.ReportAsync(new GenerationCounters(1, 123, 4, 5), TestContext.Current.CancellationToken);

            var text = new StringWriter();
            Assert.Equal(0, await StatusCommand.RunAsync(["status", "127.0.0.1:40999", "--steering-dir", directory], text, TextWriter.Null));
            Assert.Contains("active gen1", text.ToString(), StringComparison.Ordinal);
            Assert.Matches(@"gen1\s+\d+\s+Active\s+[\d.]+\s+1\s+123\s+4\s+5\s+shop", text.ToString());

            var json = new StringWriter();
            Assert.Equal(0, await StatusCommand.RunAsync(["status", "127.0.0.1:40999", "--steering-dir", directory, "--json"], json, TextWriter.Null));
            using JsonDocument document = JsonDocument.Parse(json.ToString());
            JsonElement row = document.RootElement.GetProperty("generations")[0];
            Assert.Equal(1, document.RootElement.GetProperty("active").GetInt32());
            Assert.Equal("Active", row.GetProperty("state").GetString());
            Assert.Equal(123UL, row.GetProperty("routed").GetUInt64());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("status")]
    [InlineData("status not-an-endpoint")]
    [InlineData("status 127.0.0.1:0")]
    [InlineData("status 127.0.0.1:5443 --bogus")]
    public async Task Bad_arguments_print_usage_and_exit_2(string commandLine)
    {
        string[] args = commandLine.Split(' ');
        var error = new StringWriter();
        Assert.Equal(2, await StatusCommand.RunAsync(args, TextWriter.Null, error));
        Assert.Contains("status", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_coordinator_is_a_clear_error_and_exit_1()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The generation coordinator is Linux-only.");
        string directory = Directory.CreateTempSubdirectory("qsl-status-").FullName;
        try
        {
            var error = new StringWriter();
            Assert.Equal(1, await StatusCommand.RunAsync(["status", "127.0.0.1:40998", "--steering-dir", directory], TextWriter.Null, error));
            Assert.Contains("no coordinator answered", error.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
