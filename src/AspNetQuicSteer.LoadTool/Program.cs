using AspNetQuicSteer.LoadTool;

return args switch
{
    ["status", ..] => await StatusCommand.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false),
    ["timeline-stats", ..] => await TimelineStatsCommand.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false),
    ["timeline-svg", ..] => await TimelineSvgCommand.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false),
    _ => await LoadCommand.MainAsync(args).ConfigureAwait(false),
};
