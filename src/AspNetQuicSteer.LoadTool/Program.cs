using AspNetQuicSteer.LoadTool;

return args is ["status", ..]
    ? await StatusCommand.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false)
    : await LoadCommand.MainAsync(args).ConfigureAwait(false);
