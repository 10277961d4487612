#!/usr/bin/env bash
# Builds the project's own interop peer programs fully offline into artifacts/peers/bin/:
#   <name>          test/interop/go/src/quicsteer/<name>: Go in GOPATH mode against Debian's quic-go 0.29
#                   (/usr/share/gocode): handshake, hqclient, hqserver, h3client, h3server (every directory)
#   quinn-hqclient  test/interop/rust/hqclient: Rust against Debian's quinn 0.9 crate sources
#                   (/usr/share/cargo/registry), with Debian's /usr/bin/cargo and /usr/bin/rustc (1.63), never a
#                   rustup toolchain that may come first on PATH. First build ~5 min on 2 cores; the target
#                   directory is kept in eng/.cache/cargo-target.
# A program is rebuilt only when one of its sources (or the installed library) is newer than its binary.
# Fails loudly when a toolchain or library is missing: run eng/install-peers.sh first.
# QUICSTEER_SKIP_RUST_PEERS=1 skips the Rust program (its tests then skip, or fail under CI=true).
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

# --- Rust: quinn 0.9 programs (offline, Debian registry) ---
rust_src="$root/test/interop/rust/hqclient"
if [ "${QUICSTEER_SKIP_RUST_PEERS:-}" = 1 ]; then
  echo "build-peers: QUICSTEER_SKIP_RUST_PEERS=1, not building quinn-hqclient"
elif [ -d "$rust_src" ]; then
  registry=/usr/share/cargo/registry
  if [ ! -x /usr/bin/cargo ] || [ ! -x /usr/bin/rustc ]; then
    echo "build-peers: /usr/bin/cargo or /usr/bin/rustc missing; run eng/install-peers.sh" >&2; exit 1
  fi
  compgen -G "$registry/quinn-0.9.*/Cargo.toml" >/dev/null \
    || { echo "build-peers: quinn 0.9 sources missing in $registry; run eng/install-peers.sh" >&2; exit 1; }
  bin="$out/quinn-hqclient"
  if [ -x "$bin" ] && [ -z "$(find "$rust_src/Cargo.toml" "$rust_src/src" "$registry"/quinn-0.9.*/Cargo.toml -newer "$bin" -print -quit)" ]; then
    fresh=$((fresh + 1))
  else
    echo "build-peers: building quinn-hqclient (cargo --offline against $registry)"
    cargo_home="$root/eng/.cache/cargo-home"
    target="$root/eng/.cache/cargo-target"
    mkdir -p "$cargo_home"
    printf '%s\n' '[source.crates-io]' 'replace-with = "debian"' '[source.debian]' "directory = \"$registry\"" \
      '[net]' 'offline = true' > "$cargo_home/config.toml"
    # A Cargo.lock from another registry state would not resolve offline: let cargo resolve afresh.
    rm -f "$rust_src/Cargo.lock"
    (cd "$rust_src" && env -u RUSTUP_TOOLCHAIN -u RUSTFLAGS CARGO_HOME="$cargo_home" RUSTC=/usr/bin/rustc \
      RUSTDOC=/usr/bin/rustdoc CARGO_TARGET_DIR="$target" /usr/bin/cargo build --offline --release --quiet -j "$(nproc)")
    cp -f "$target/release/quinn-hqclient" "$bin.tmp"
    mv -f "$bin.tmp" "$bin"
    built=$((built + 1))
  fi
fi
echo "build-peers: $built built, $fresh up to date ($out)"
