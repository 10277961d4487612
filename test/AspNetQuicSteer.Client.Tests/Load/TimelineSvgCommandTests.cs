using System.Text.Json;
using AspNetQuicSteer.LoadTool;

namespace AspNetQuicSteer.Client.Tests.Load;

/// <summary><c>quicsteer-load timeline-svg</c>: the rollover picture drawn from a run's JSON timeline.</summary>
public sealed class TimelineSvgCommandTests
{
    private const string Run = """
        {"timeline":{"bucketMilliseconds":500,"groupByHeader":"x-app-version","groups":["v1","v2"],"buckets":[
          {"startMilliseconds":0,"completed":10,"failed":0,"groups":[10,0]},
          {"startMilliseconds":500,"completed":12,"failed":1,"groups":[6,6]},
          {"startMilliseconds":1000,"completed":9,"failed":0,"groups":[0,9]}]}}
        """;

    [Fact]
    public void Draws_stacked_bars_failures_and_markers_where_versions_first_and_last_answer()
    {
        using JsonDocument run = JsonDocument.Parse(Run);
        string svg = TimelineSvgCommand.Render(run.RootElement);
        Assert.StartsWith("<svg", svg, StringComparison.Ordinal);
        Assert.Contains("failed: 1", svg, StringComparison.Ordinal);
        Assert.Contains(">v2 answers<", svg, StringComparison.Ordinal); // first bucket with v2: the activation
        Assert.Contains(">v1 last<", svg, StringComparison.Ordinal);    // after the last bucket with v1: its drain ended
        Assert.DoesNotContain(">v1 answers<", svg, StringComparison.Ordinal);
        Assert.DoesNotContain(">v2 last<", svg, StringComparison.Ordinal);
        // 4 non-empty group segments + 1 failure bar + background + 3 legend boxes.
        Assert.Equal(4 + 1 + 1 + 3, svg.Split("<rect", StringSplitOptions.None).Length - 1);
        using var parsed = System.Xml.XmlReader.Create(new StringReader(svg));
        while (parsed.Read())
        {
            // well-formed XML all the way through
        }
    }

    [Fact]
    public void A_run_without_a_timeline_is_a_clear_error()
    {
        using JsonDocument run = JsonDocument.Parse("""{"requests":{}}""");
        var error = Assert.Throws<InvalidOperationException>(() => TimelineSvgCommand.Render(run.RootElement));
        Assert.Contains("--timeline", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_the_file_and_reports_bad_input_with_exit_codes()
    {
        string directory = Directory.CreateTempSubdirectory("qsl-svg-").FullName;
        try
        {
            string json = Path.Combine(directory, "run.json"), svg = Path.Combine(directory, "out.svg");
            await File.WriteAllTextAsync(json, Run, TestContext.Current.CancellationToken);
            Assert.Equal(0, await TimelineSvgCommand.RunAsync(["timeline-svg", json, svg], TextWriter.Null, TextWriter.Null));
            Assert.Contains("<svg", await File.ReadAllTextAsync(svg, TestContext.Current.CancellationToken), StringComparison.Ordinal);

            await File.WriteAllTextAsync(json, "{ not json", TestContext.Current.CancellationToken);
            var error = new StringWriter();
            Assert.Equal(1, await TimelineSvgCommand.RunAsync(["timeline-svg", json, svg], TextWriter.Null, error));
            Assert.Contains(json, error.ToString(), StringComparison.Ordinal);
            Assert.Equal(2, await TimelineSvgCommand.RunAsync(["timeline-svg", json], TextWriter.Null, TextWriter.Null));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
