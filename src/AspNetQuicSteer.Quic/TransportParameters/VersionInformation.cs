using System.Collections.Immutable;

namespace AspNetQuicSteer.Quic.TransportParameters;

/// <summary>The version_information transport parameter (RFC 9368 §3).</summary>
internal sealed class VersionInformation
{
    public VersionInformation(uint chosenVersion, ImmutableArray<uint> availableVersions)
    {
        ChosenVersion = chosenVersion;
        AvailableVersions = availableVersions.IsDefault ? [] : availableVersions;
    }

    /// <summary>The version the sender chose for this connection.</summary>
    public uint ChosenVersion { get; }

    /// <summary>Client: versions this first flight is compatible with, by preference. Server: its fully deployed versions.</summary>
    public ImmutableArray<uint> AvailableVersions { get; }

    public int EncodedLength => 4 * (1 + AvailableVersions.Length);
}
