using System.Buffers.Binary;
using System.Text;

namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>A file served in an hq-interop test: its path relative to the www directory ("/" separated) and size.</summary>
internal sealed record HqTestFile(string Name, long Size)
{
    /// <summary>The request path, "/" + <see cref="Name"/>.</summary>
    public string UrlPath => "/" + Name;
}

/// <summary>
/// Test files with deterministic content for hq-interop transfers: byte <c>o</c> of file <c>name</c> is byte
/// <c>o % 8</c> (little endian) of SplitMix64(FNV-1a(name) + o / 8), so every file differs from every other and
/// any offset's content is known without the whole file (shifted, truncated or swapped data is caught).
/// </summary>
internal static class HqTestFiles
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>Writes each (name, size) file into <paramref name="wwwDirectory"/> (subdirectories created as needed).</summary>
    public static IReadOnlyList<HqTestFile> Create(string wwwDirectory, IEnumerable<(string Name, long Size)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        List<HqTestFile> created = [];
        foreach ((string name, long size) in files)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(size);
            if (name.Length == 0 || name.StartsWith('/') || name.Contains("..", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Bad test file name '{name}'.", nameof(files));
            }

            string path = Path.Combine(wwwDirectory, name.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using FileStream stream = new(path, FileMode.Create, FileAccess.Write, FileShare.None, ChunkSize);
            byte[] chunk = new byte[ChunkSize];
            for (long offset = 0; offset < size; offset += ChunkSize)
            {
                int length = (int)Math.Min(ChunkSize, size - offset);
                Fill(name, offset, chunk.AsSpan(0, length));
                stream.Write(chunk, 0, length);
            }

            created.Add(new HqTestFile(name, size));
        }

        return created;
    }

    /// <summary>Writes one file.</summary>
    public static HqTestFile CreateOne(string wwwDirectory, string name, long size) => Create(wwwDirectory, [(name, size)])[0];

    /// <summary>Writes <paramref name="count"/> files "<paramref name="prefix"/>0", "…1", … of <paramref name="size"/> bytes each.</summary>
    public static IReadOnlyList<HqTestFile> CreateSet(string wwwDirectory, string prefix, int count, long size) =>
        Create(wwwDirectory, Enumerable.Range(0, count).Select(i => (prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture), size)));

    /// <summary>The content of <paramref name="name"/> from <paramref name="offset"/>, filling <paramref name="destination"/>.</summary>
    public static void Fill(string name, long offset, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ulong seed = Fnv1a(name);
        Span<byte> word = stackalloc byte[8];
        long block = -1;
        for (int i = 0; i < destination.Length; i++)
        {
            long position = offset + i;
            if (position >> 3 != block)
            {
                block = position >> 3;
                BinaryPrimitives.WriteUInt64LittleEndian(word, SplitMix64(seed + (ulong)block));
            }

            destination[i] = word[(int)(position & 7)];
        }
    }

    /// <summary>The whole expected content of a (small) file.</summary>
    public static byte[] ExpectedContent(string name, long size)
    {
        byte[] content = new byte[checked((int)size)];
        Fill(name, 0, content);
        return content;
    }

    /// <summary>
    /// Compares the downloaded copy of each file (under <paramref name="downloadDirectory"/> at its name) with
    /// the expected content; returns one description per missing or differing file (empty when all match).
    /// </summary>
    public static IReadOnlyList<string> FindMismatches(string downloadDirectory, IEnumerable<HqTestFile> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        List<string> problems = [];
        byte[] actual = new byte[ChunkSize];
        byte[] expected = new byte[ChunkSize];
        foreach (HqTestFile file in files)
        {
            string path = Path.Combine(downloadDirectory, file.Name.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(path))
            {
                problems.Add($"{file.Name}: not downloaded");
                continue;
            }

            using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkSize);
            if (stream.Length != file.Size)
            {
                problems.Add($"{file.Name}: {stream.Length} bytes, expected {file.Size}{DescribeFirstDifference(stream, file, actual, expected)}");
                continue;
            }

            string difference = DescribeFirstDifference(stream, file, actual, expected);
            if (difference.Length > 0)
            {
                problems.Add(file.Name + ":" + difference);
            }
        }

        return problems;
    }

    /// <summary>Asserts every file was downloaded completely and byte for byte (message lists up to 10 problems).</summary>
    public static void AssertDownloaded(string downloadDirectory, IEnumerable<HqTestFile> files, string? context = null)
    {
        IReadOnlyList<string> problems = FindMismatches(downloadDirectory, files);
        if (problems.Count > 0)
        {
            StringBuilder message = new($"{problems.Count} downloaded file(s) differ from what was served:\n");
            foreach (string problem in problems.Take(10))
            {
                message.Append("  ").Append(problem).Append('\n');
            }

            if (context is not null)
            {
                message.Append(context);
            }

            Assert.Fail(message.ToString());
        }
    }

    private static string DescribeFirstDifference(FileStream stream, HqTestFile file, byte[] actual, byte[] expected)
    {
        stream.Position = 0;
        long offset = 0;
        while (true)
        {
            int read = stream.ReadAtLeast(actual, actual.Length, throwOnEndOfStream: false);
            if (read == 0)
            {
                return string.Empty;
            }

            int compare = (int)Math.Min(read, Math.Max(0, file.Size - offset));
            Fill(file.Name, offset, expected.AsSpan(0, compare));
            int mismatch = actual.AsSpan(0, compare).CommonPrefixLength(expected.AsSpan(0, compare));
            if (mismatch < compare)
            {
                return FormattableString.Invariant(
                    $" first difference at offset {offset + mismatch} (0x{actual[mismatch]:x2}, expected 0x{expected[mismatch]:x2})");
            }

            if (compare < read)
            {
                return string.Empty; // longer than expected: the length check reports it
            }

            offset += read;
        }
    }

    private static ulong Fnv1a(string text)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
