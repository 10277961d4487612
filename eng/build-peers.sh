#!/usr/bin/env bash
# Builds the project's own interop peer programs (test/interop/go/src/quicsteer/<name>, Go in GOPATH mode
# against Debian's quic-go 0.29 in /usr/share/gocode) fully offline into artifacts/peers/bin/<name>.
# A program is rebuilt only when one of its sources (or the installed quic-go) is newer than its binary.
# Fails loudly when go or quic-go is missing: run eng/install-peers.sh first.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gopath_repo="$root/test/interop/go"
quicgo=/usr/share/gocode/src/github.com/lucas-clemente/quic-go
out="$root/artifacts/peers/bin"

command -v go >/dev/null 2>&1 || { echo "build-peers: 'go' not found; run eng/install-peers.sh" >&2; exit 1; }
[ -f "$quicgo/client.go" ] || { echo "build-peers: quic-go sources missing at $quicgo; run eng/install-peers.sh" >&2; exit 1; }

export GOPATH="$gopath_repo:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= GOTOOLCHAIN=local
export GOCACHE="$root/eng/.cache/go-build" CGO_ENABLED=0
mkdir -p "$out" "$GOCACHE"

built=0 fresh=0
for dir in "$gopath_repo"/src/quicsteer/*/; do
  [ -d "$dir" ] || continue
  name=$(basename "$dir")
  bin="$out/$name"
  if [ -x "$bin" ] && [ -z "$(find "$dir" "$quicgo/go.mod" -newer "$bin" -print -quit)" ]; then
    fresh=$((fresh + 1))
    continue
  fi
  echo "build-peers: building $name"
  # Build to a temporary name so an interrupted build never leaves a stale-but-newer binary behind.
  go build -trimpath -o "$bin.tmp" "quicsteer/$name"
  mv -f "$bin.tmp" "$bin"
  built=$((built + 1))
done
[ $((built + fresh)) -gt 0 ] || { echo "build-peers: no programs under $gopath_repo/src/quicsteer" >&2; exit 1; }
echo "build-peers: $built built, $fresh up to date ($out)"
