namespace AspNetQuicSteer.Quic.Tests.Interop;

/// <summary>A fresh directory under the system temp folder, deleted (recursively) on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "quicsteer-")
    {
        Path = Directory.CreateTempSubdirectory(prefix).FullName;
    }

    public string Path { get; }

    /// <summary>The full path of <paramref name="relativePath"/> inside this directory.</summary>
    public string Combine(string relativePath) => System.IO.Path.Combine(Path, relativePath);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A peer still holding a file must not turn a passing test into a failure.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
