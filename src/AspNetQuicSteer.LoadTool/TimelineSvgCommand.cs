using System.Globalization;
using System.Text;
using System.Text.Json;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// <c>quicsteer-load timeline-svg run.json out.svg [--mark LABEL=UNIXMS]...</c>: draws the completions timeline of a
/// <c>--json</c> run made with <c>--timeline</c> (and usually <c>--group-by-header x-app-version</c>) as an SVG:
/// completed requests per bucket, stacked by the responding group, failures in red, the p99 latency of each bucket as
/// a line (right axis), and a dashed marker at each <c>--mark</c> (real events such as an activation or a process
/// exit, placed by wall clock; colored like the group its label starts with). Without marks, markers are derived
/// from the data: where each later group first answered and where each earlier one answered last.
/// </summary>
internal static class TimelineSvgCommand
{
    public const string Usage = "usage: quicsteer-load timeline-svg <run.json> <out.svg> [--mark LABEL=UNIXMS]...";

    private static readonly string[] s_palette = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"];

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        List<string> positional = [];
        List<TimelineMark> marks = [];
        for (int i = 1; i < args.Length; i++)
        {
            if (args[i] == "--mark" && i + 1 < args.Length)
            {
                if (!TimelineMark.TryParse(args[++i], out TimelineMark? mark, out string? problem))
                {
                    await error.WriteLineAsync($"quicsteer-load timeline-svg: {problem}\n{Usage}").ConfigureAwait(false);
                    return 2;
                }

                marks.Add(mark!);
            }
            else
            {
                positional.Add(args[i]);
            }
        }

        if (positional.Count != 2 || positional.Any(p => p.StartsWith("--", StringComparison.Ordinal)))
        {
            await error.WriteLineAsync(Usage).ConfigureAwait(false);
            return 2;
        }

        string svg;
        try
        {
            using JsonDocument run = JsonDocument.Parse(await File.ReadAllBytesAsync(positional[0]).ConfigureAwait(false));
            svg = Render(run.RootElement, marks);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            await error.WriteLineAsync($"quicsteer-load timeline-svg: {positional[0]}: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        await File.WriteAllTextAsync(positional[1], svg).ConfigureAwait(false);
        await output.WriteLineAsync($"wrote {positional[1]}").ConfigureAwait(false);
        return 0;
    }

    /// <summary>The SVG of a run's timeline; throws when the run has none (or marks and no wall-clock anchor).</summary>
    internal static string Render(JsonElement run, IReadOnlyList<TimelineMark>? marks = null)
    {
        TimelineData data = TimelineData.Read(run);
        marks ??= [];
        double bucketMs = data.BucketMilliseconds;
        string[] groups = data.Groups;
        IReadOnlyList<TimelineDataBucket> buckets = data.Buckets;
        double[] markOffsets = [.. marks.Select(data.OffsetOf)];

        // The time axis covers the buckets and every mark (an old generation may exit after the load stopped).
        double from = Math.Min(0, markOffsets.DefaultIfEmpty(0).Min() - bucketMs);
        double to = Math.Max(buckets.Count * bucketMs, markOffsets.DefaultIfEmpty(0).Max() + bucketMs);
        const int width = 960, height = 440, left = 70, right = 70, top = 70, bottom = 60;
        double plotWidth = width - left - right, plotHeight = height - top - bottom;
        long max = Math.Max(1, buckets.Max(b => Math.Max(b.Completed, b.Failed)));
        double maxP99 = buckets.Max(b => b.P99Ms ?? 0);
        double barWidth = plotWidth * bucketMs / (to - from);
        double X(double offsetMs) => left + (offsetMs - from) / (to - from) * plotWidth;
        double Y(double value) => top + plotHeight - value / max * plotHeight;
        double YLatency(double ms) => top + plotHeight - ms / maxP99 * plotHeight;
        string F(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        string header = data.GroupByHeader is { } h ? $" by {h}" : string.Empty;
        long failed = buckets.Sum(b => b.Failed);
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left}\" y=\"20\" font-size=\"14\">Completed requests per {F(bucketMs)} ms{Escape(header)}; failed: {failed}</text>\n");

        for (int i = 0; i < buckets.Count; i++)
        {
            double x = X(i * bucketMs), stacked = 0;
            string w = F(Math.Max(barWidth - 1, 1));
            for (int group = 0; group < buckets[i].Groups.Length; group++)
            {
                long count = buckets[i].Groups[group];
                if (count == 0) continue;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{F(x)}\" y=\"{F(Y(stacked + count))}\" width=\"{w}\" height=\"{F(Y(stacked) - Y(stacked + count))}\" fill=\"{Color(group)}\"/>\n");
                stacked += count;
            }

            if (buckets[i].Groups.Length == 0 && buckets[i].Completed > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(Y(buckets[i].Completed))}\" width=\"{w}\" height=\"{F(Y(0) - Y(buckets[i].Completed))}\" fill=\"{Color(0)}\"/>\n");
            }

            if (buckets[i].Failed > 0)
            {
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(Y(buckets[i].Failed))}\" width=\"{w}\" height=\"{F(Y(0) - Y(buckets[i].Failed))}\" fill=\"#e15759\" opacity=\"0.8\"/>\n");
            }
        }

        // The p99 of each bucket (runs from before per-bucket latency have none): a rollover's cost shows as a spike.
        if (maxP99 > 0)
        {
            // One line per run of buckets with completions: a bucket without any has no p99, and bridging the gap
            // would draw a slope that no request had.
            List<string> points = [];
            for (int i = 0; i <= buckets.Count; i++)
            {
                if (i < buckets.Count && buckets[i].P99Ms is { } p99)
                {
                    points.Add($"{F(X((i + 0.5) * bucketMs))},{F(YLatency(p99))}");
                    continue;
                }

                if (points.Count > 0)
                {
                    svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{string.Join(' ', points)}\" fill=\"none\" stroke=\"black\" stroke-width=\"1\" opacity=\"0.7\"/>\n");
                    points.Clear();
                }
            }

            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(left + plotWidth)}\" y1=\"{top}\" x2=\"{F(left + plotWidth)}\" y2=\"{F(top + plotHeight)}\" stroke=\"black\"/>\n");
            for (int tick = 0; tick <= 4; tick++)
            {
                double value = maxP99 * tick / 4.0;
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + plotWidth + 6)}\" y=\"{F(YLatency(value) + 4)}\">{F(Math.Round(value))}</text>\n");
            }

            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + plotWidth + 6)}\" y=\"{top - 8}\">p99 ms</text>\n");
        }

        if (marks.Count > 0)
        {
            // Real events, staggered in three label rows so that close ones (an exit right after an activation) stay legible.
            for (int i = 0; i < marks.Count; i++)
            {
                int group = Array.FindIndex(groups, g => marks[i].Label.StartsWith(g + " ", StringComparison.Ordinal) || marks[i].Label == g);
                Marker(svg, X(markOffsets[i]), top, plotHeight, group < 0 ? "#555555" : Color(group), marks[i].Label, F, row: i % 3);
            }
        }
        else
        {
            // Markers derived from the data: where a later group first answers (its generation took over) and where an
            // earlier one answers for the last time (its generation has drained).
            for (int group = 0; group < groups.Length; group++)
            {
                int first = -1, last = -1;
                for (int i = 0; i < buckets.Count; i++)
                {
                    if (group < buckets[i].Groups.Length && buckets[i].Groups[group] > 0)
                    {
                        if (first < 0) first = i;
                        last = i;
                    }
                }

                if (first < 0) continue;
                if (group > 0) Marker(svg, X(first * bucketMs), top, plotHeight, Color(group), $"{groups[group]} answers", F, row: 0);
                if (group < groups.Length - 1) Marker(svg, X((last + 1) * bucketMs), top, plotHeight, Color(group), $"{groups[group]} last", F, row: 0, below: true);
            }
        }

        // Axes, ticks and legend.
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{F(top + plotHeight)}\" x2=\"{F(left + plotWidth)}\" y2=\"{F(top + plotHeight)}\" stroke=\"black\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{F(top + plotHeight)}\" stroke=\"black\"/>\n");
        for (int tick = 0; tick <= 4; tick++)
        {
            double value = max * tick / 4.0;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left - 6}\" y=\"{F(Y(value) + 4)}\" text-anchor=\"end\">{F(Math.Round(value))}</text>\n");
        }

        double seconds = (to - from) / 1000;
        int step = Math.Max(1, (int)Math.Ceiling(seconds / 10));
        for (int second = (int)Math.Ceiling(from / 1000); second * 1000 <= to; second += step)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(second * 1000))}\" y=\"{F(top + plotHeight + 16)}\" text-anchor=\"middle\">{second} s</text>\n");
        }

        for (int group = 0; group < groups.Length; group++)
        {
            double x = left + group * 110;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{height - 24}\" width=\"12\" height=\"12\" fill=\"{Color(group)}\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + 16)}\" y=\"{height - 14}\">{Escape(groups[group])}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(left + groups.Length * 110)}\" y=\"{height - 24}\" width=\"12\" height=\"12\" fill=\"#e15759\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(left + groups.Length * 110 + 16)}\" y=\"{height - 14}\">failed</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Color(int group) => s_palette[group % s_palette.Length];

    private static void Marker(StringBuilder svg, double x, double top, double plotHeight, string color, string label, Func<double, string> f, int row, bool below = false)
    {
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{f(x)}\" y1=\"{f(top - 14 * (2 - row))}\" x2=\"{f(x)}\" y2=\"{f(top + plotHeight)}\" stroke=\"{color}\" stroke-dasharray=\"4 3\" stroke-width=\"2\"/>\n");
        double y = below ? top + plotHeight - 6 : top - 4 - 14 * (2 - row);
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{f(x + 3)}\" y=\"{f(y)}\" fill=\"{color}\">{Escape(label)}</text>\n");
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
