using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// <c>quicsteer-load timeline-svg run.json out.svg</c>: draws the completions timeline of a <c>--json</c> run made with
/// <c>--timeline</c> (and usually <c>--group-by-header x-app-version</c>) as an SVG: completed requests per bucket,
/// stacked by the responding group, failures in red, and a marker where each later group first answered
/// ("activated") and where each earlier group answered last ("last response": its generation drained).
/// </summary>
internal static class TimelineSvgCommand
{
    private static readonly string[] s_palette = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"];

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length != 3)
        {
            await error.WriteLineAsync("usage: quicsteer-load timeline-svg <run.json> <out.svg>").ConfigureAwait(false);
            return 2;
        }

        string svg;
        try
        {
            using JsonDocument run = JsonDocument.Parse(await File.ReadAllBytesAsync(args[1]).ConfigureAwait(false));
            svg = Render(run.RootElement);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            await error.WriteLineAsync($"quicsteer-load timeline-svg: {args[1]}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        await File.WriteAllTextAsync(args[2], svg).ConfigureAwait(false);
        await output.WriteLineAsync($"wrote {args[2]}").ConfigureAwait(false);
        return 0;
    }

    /// <summary>The SVG of a run's timeline; throws when the run has none.</summary>
    internal static string Render(JsonElement run)
    {
        if (!run.TryGetProperty("timeline", out JsonElement timeline) || timeline.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException("the run has no timeline (run quicsteer-load with --timeline)");
        }

        double bucketMs = timeline.GetProperty("bucketMilliseconds").GetDouble();
        string[] groups = [.. timeline.TryGetProperty("groups", out JsonElement g) ? g.EnumerateArray().Select(e => e.GetString() ?? "(none)") : []];
        var buckets = timeline.GetProperty("buckets").EnumerateArray().Select(b => (
            Start: b.GetProperty("startMilliseconds").GetDouble(),
            Completed: b.GetProperty("completed").GetInt64(),
            Failed: b.GetProperty("failed").GetInt64(),
            Groups: b.TryGetProperty("groups", out JsonElement counts) ? counts.EnumerateArray().Select(c => c.GetInt64()).ToArray() : [])).ToList();
        if (buckets.Count == 0) throw new InvalidOperationException("the timeline has no buckets");

        const int width = 960, height = 420, left = 70, right = 20, top = 40, bottom = 60;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        long max = Math.Max(1, buckets.Max(b => Math.Max(b.Completed, b.Failed)));
        double barWidth = plotWidth / buckets.Count;
        double Y(double value) => top + plotHeight - value / max * plotHeight;
        string F(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        string header = timeline.TryGetProperty("groupByHeader", out JsonElement h) && h.ValueKind == JsonValueKind.String ? $" by {h.GetString()}" : string.Empty;
        long failed = buckets.Sum(b => b.Failed);
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"20\" font-size=\"14\">Completed requests per {F(bucketMs)} ms{Escape(header)}; failed: {failed}</text>\n");

        for (int i = 0; i < buckets.Count; i++)
        {
            double x = left + i * barWidth, stacked = 0;
            for (int group = 0; group < buckets[i].Groups.Length; group++)
            {
                long count = buckets[i].Groups[group];
                if (count == 0) continue;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{F(x)}\" y=\"{F(Y(stacked + count))}\" width=\"{F(Math.Max(barWidth - 1, 1))}\" height=\"{F(Y(stacked) - Y(stacked + count))}\" fill=\"{s_palette[group % s_palette.Length]}\"/>\n");
                stacked += count;
            }

            if (buckets[i].Groups.Length == 0 && buckets[i].Completed > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(Y(buckets[i].Completed))}\" width=\"{F(Math.Max(barWidth - 1, 1))}\" height=\"{F(Y(0) - Y(buckets[i].Completed))}\" fill=\"{s_palette[0]}\"/>\n");
            }

            if (buckets[i].Failed > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(Y(buckets[i].Failed))}\" width=\"{F(Math.Max(barWidth - 1, 1))}\" height=\"{F(Y(0) - Y(buckets[i].Failed))}\" fill=\"#e15759\" opacity=\"0.8\"/>\n");
            }
        }

        // Markers derived from the data: where a later group first answers (its generation took over) and where an
        // earlier one answers for the last time (its generation has drained).
        for (int group = 0; group < groups.Length; group++)
        {
            int first = buckets.FindIndex(b => group < b.Groups.Length && b.Groups[group] > 0);
            int last = buckets.FindLastIndex(b => group < b.Groups.Length && b.Groups[group] > 0);
            if (first < 0) continue;
            if (group > 0) Marker(svg, left + first * barWidth, top, plotHeight, s_palette[group % s_palette.Length], $"{groups[group]} answers", F);
            if (group < groups.Length - 1 && last >= 0) Marker(svg, left + (last + 1) * barWidth, top, plotHeight, s_palette[group % s_palette.Length], $"{groups[group]} last", F, below: true);
        }

        // Axes, ticks and legend.
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{F(top + plotHeight)}\" x2=\"{F(left + plotWidth)}\" y2=\"{F(top + plotHeight)}\" stroke=\"black\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{F(top + plotHeight)}\" stroke=\"black\"/>\n");
        for (int tick = 0; tick <= 4; tick++)
        {
            double value = max * tick / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(Y(value) + 4)}\" text-anchor=\"end\">{F(Math.Round(value))}</text>\n");
        }

        double seconds = buckets.Count * bucketMs / 1000;
        int step = Math.Max(1, (int)Math.Ceiling(seconds / 10));
        for (int second = 0; second <= seconds; second += step)
        {
            double x = left + second * 1000 / bucketMs * barWidth;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{F(top + plotHeight + 16)}\" text-anchor=\"middle\">{second} s</text>\n");
        }

        for (int group = 0; group < groups.Length; group++)
        {
            double x = left + group * 110;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{height - 24}\" width=\"12\" height=\"12\" fill=\"{s_palette[group % s_palette.Length]}\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + 16)}\" y=\"{height - 14}\">{Escape(groups[group])}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(left + groups.Length * 110)}\" y=\"{height - 24}\" width=\"12\" height=\"12\" fill=\"#e15759\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + groups.Length * 110 + 16)}\" y=\"{height - 14}\">failed</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Marker(StringBuilder svg, double x, double top, double plotHeight, string color, string label, Func<double, string> f, bool below = false)
    {
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{f(x)}\" y1=\"{f(top)}\" x2=\"{f(x)}\" y2=\"{f(top + plotHeight)}\" stroke=\"{color}\" stroke-dasharray=\"4 3\" stroke-width=\"2\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{f(x + 3)}\" y=\"{f(below ? top + plotHeight - 6 : top + 12)}\" fill=\"{color}\">{Escape(label)}</text>\n");
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
