using QuicHandshakeHarness;

try
{
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
