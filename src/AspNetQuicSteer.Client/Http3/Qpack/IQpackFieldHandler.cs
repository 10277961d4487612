namespace AspNetQuicSteer.Client.Http3;

/// <summary>Receives the field lines of a decoded field section, in order.</summary>
internal interface IQpackFieldHandler
{
    /// <summary>
    /// One field line. The spans are only valid during the call (they point into the field section or into the
    /// decoder's scratch buffer); copy what must outlive it.
    /// </summary>
    void OnField(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value);
}
