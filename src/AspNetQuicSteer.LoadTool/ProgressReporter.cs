using System.Globalization;
using System.Text;

namespace AspNetQuicSteer.LoadTool;

/// <summary>
/// Writes a progress line every interval (stderr): elapsed time since the start, measured requests completed, the
/// request and receive rates over the last interval (MB = 10^6 bytes), and failures so far; with --group-by-header also
/// the completions of each group and the failures within the interval.
/// </summary>
internal static class ProgressReporter
{
    /// <summary>Reports until <paramref name="cancellationToken"/> is cancelled (the end of the run).</summary>
    public static async Task RunAsync(Func<LoadProgress> read, TimeSpan interval, TextWriter writer, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(writer);
        using PeriodicTimer timer = new(interval);
        LoadProgress previous = read();
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                LoadProgress current = read();
                await writer.WriteLineAsync(Format(current, previous)).ConfigureAwait(false);
                previous = current;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over.
        }
    }

    /// <summary>One progress line from two consecutive snapshots.</summary>
    public static string Format(LoadProgress current, LoadProgress previous)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        if (current.WarmingUp)
        {
            return string.Create(c, $"[{current.Elapsed.TotalSeconds,7:0.0}s] warm-up");
        }

        double seconds = (current.Elapsed - previous.Elapsed).TotalSeconds;
        double rate = seconds > 0 ? (current.Completed - previous.Completed) / seconds : 0;
        double megabytes = seconds > 0 ? (current.BytesReceived - previous.BytesReceived) / seconds / 1e6 : 0;
        double sentMegabytes = seconds > 0 ? (current.BytesSent - previous.BytesSent) / seconds / 1e6 : 0;
        string line = string.Create(
            c,
            $"[{current.Elapsed.TotalSeconds,7:0.0}s] {current.Completed} done, {rate:0.0} req/s, {megabytes:0.00} MB/s in, {sentMegabytes:0.00} MB/s out, {current.Failed} failed");
        if (current.GroupNames.Count == 0)
        {
            return line;
        }

        // With --group-by-header: who answered in this interval (with --progress 100ms, the timeline as it happens).
        StringBuilder groups = new(line);
        groups.Append("  [interval:");
        for (int i = 0; i < current.GroupNames.Count; i++)
        {
            long before = i < previous.GroupCompleted.Count ? previous.GroupCompleted[i] : 0;
            groups.Append(c, $" {current.GroupNames[i] ?? "(none)"} {current.GroupCompleted[i] - before},");
        }

        groups.Append(c, $" failed {current.Failed - previous.Failed}]");
        return groups.ToString();
    }
}
