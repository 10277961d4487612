#!/usr/bin/env bash
# The main job. Until the Kestrel transport lands (issue 4) this builds and runs the QUIC handshake
# harness: a UDP server on 127.0.0.1:4433 that completes QUIC v1 + TLS 1.3 handshakes with real clients.
# Extra arguments go to the program (see README.md), e.g. eng/run.sh --port 5443 --timeout 60
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build "$root/samples/QuicHandshakeHarness/QuicHandshakeHarness.csproj" -c Release -v quiet -nologo
exec dotnet "$root/samples/QuicHandshakeHarness/bin/Release/net10.0/QuicHandshakeHarness.dll" "$@"
