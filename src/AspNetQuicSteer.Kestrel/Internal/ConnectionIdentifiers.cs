namespace AspNetQuicSteer.Kestrel.Internal;

/// <summary>Short, unique, sortable connection identifiers in Kestrel's style (base32 of a counter seeded by the clock).</summary>
internal static class ConnectionIdentifiers
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    private static long s_last = DateTime.UtcNow.Ticks;

    public static string Next()
    {
        long id = Interlocked.Increment(ref s_last);
        return string.Create(13, id, static (span, value) =>
        {
            for (int i = span.Length - 1; i >= 0; i--)
            {
                span[i] = Alphabet[(int)(value & 31)];
                value >>= 5;
            }
        });
    }
}
