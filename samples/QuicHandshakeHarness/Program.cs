using QuicHandshakeHarness;

try
{
    if (args.Length > 0 && args[0] == "client")
    {
        return HqClient.Run(args[1..], Console.Out);
    }

    HarnessOptions options = HarnessOptions.Parse(args);
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        cancel.Cancel();
    };

    using var server = new HandshakeServer(options, Console.Out);
    return server.Run(cancel.Token);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}
