#!/usr/bin/env bash
# The main job: runs the sample site (samples/SampleSite) on Kestrel with HTTP/1.1 + HTTP/2 over TCP and HTTP/3 over
# UDP (our managed QUIC transport), on https://127.0.0.1:5443 by default. Builds it (Release) first when the build is
# missing or older than its sources. Extra arguments go to the app, e.g.
#   eng/run.sh --urls https://127.0.0.1:6443        # another port
#   APP_VERSION=v2 eng/run.sh                       # label the instance
# See README.md ("The sample site") for client commands (gtlsclient, Chromium, curl).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
project="$root/samples/SampleSite/SampleSite.csproj"
dll="$root/samples/SampleSite/bin/Release/net10.0/SampleSite.dll"

needs_build() {
  [ -f "$dll" ] || return 0
  # Any source, project or build-settings file newer than the output means a rebuild.
  [ -n "$(find "$root/src" "$root/samples/SampleSite" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
      \( -path '*/bin' -o -path '*/obj' \) -prune -o \
      \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.json' \) -newer "$dll" -print -quit)" ]
}

if needs_build; then
  echo "eng/run.sh: building samples/SampleSite (Release)..." >&2
  dotnet build "$project" -c Release -v quiet -nologo >&2
fi
# The content root is the build output, where appsettings.json is (log levels of the ASP.NET Core template); a
# --contentRoot of your own comes later and wins. Relative paths in options resolve against it.
exec dotnet "$dll" --contentRoot "$(dirname "$dll")" "$@"
