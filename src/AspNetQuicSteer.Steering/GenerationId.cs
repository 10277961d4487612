namespace AspNetQuicSteer.Steering;

/// <summary>
/// The host-local steering value a connection ID carries: which generation of an app (or which app, for CIBIR
/// sharing) owns the connection. One byte, so a classic BPF program can read it at a fixed CID offset.
/// </summary>
internal readonly record struct GenerationId(byte Value)
{
    public override string ToString() => $"gen{Value}";
}
