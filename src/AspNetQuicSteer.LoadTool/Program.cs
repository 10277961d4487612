using AspNetQuicSteer.LoadTool;

return await LoadCommand.MainAsync(args).ConfigureAwait(false);
