#!/usr/bin/env bash
# Installs the real QUIC peers the interop tests use (../shared/design/PEERS.md), only when missing.
# Idempotent: a machine that has them already does no apt work at all (no apt-get update either).
#   ngtcp2-client / ngtcp2-server : gtlsclient / gtlsserver (ngtcp2 0.12, GnuTLS, nghttp3)
#   golang-go + quic-go sources   : eng/build-peers.sh builds test/interop/go programs offline
#   chromium                      : headless Chromium as a real-browser HTTP/3 client (test/interop/H3.md)
#   openssl                       : handy for inspecting test certificates (tests use .NET's own)
#   cargo + rustc (Debian, 1.63) and the quinn 0.9 / rustls 0.20 / tokio 1 crate sources in
#   /usr/share/cargo/registry       : eng/build-peers.sh builds test/interop/rust/hqclient offline
set -euo pipefail

quicgo=/usr/share/gocode/src/github.com/lucas-clemente/quic-go
registry=/usr/share/cargo/registry
# crate_present NAME-VERSIONPREFIX: a Debian librust-*-dev source directory in the cargo registry.
crate_present() { compgen -G "$registry/$1*/Cargo.toml" >/dev/null; }

need=()
command -v gtlsclient >/dev/null 2>&1 || need+=(ngtcp2-client)
command -v gtlsserver >/dev/null 2>&1 || need+=(ngtcp2-server)
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -f "$quicgo/client.go" ] || need+=(golang-github-lucas-clemente-quic-go-dev)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ -x /usr/bin/cargo ] || need+=(cargo)
[ -x /usr/bin/rustc ] || need+=(rustc)
crate_present quinn-0.9. || need+=(librust-quinn-dev)
crate_present rustls-0.20. || need+=(librust-rustls-dev)
crate_present rustls-pemfile-1. || need+=(librust-rustls-pemfile-dev)
crate_present tokio-1. || need+=(librust-tokio-dev)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-peers: all peers present"
  exit 0
fi

echo "install-peers: installing ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"

# Verify: a package that installed but does not provide what we probe for is a failure, not a pass.
missing=()
command -v gtlsclient >/dev/null 2>&1 || missing+=(gtlsclient)
command -v gtlsserver >/dev/null 2>&1 || missing+=(gtlsserver)
command -v go >/dev/null 2>&1 || missing+=(go)
[ -f "$quicgo/client.go" ] || missing+=("$quicgo")
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/bin/cargo ] || missing+=(/usr/bin/cargo)
[ -x /usr/bin/rustc ] || missing+=(/usr/bin/rustc)
for crate in quinn-0.9. rustls-0.20. rustls-pemfile-1. tokio-1.; do
  crate_present "$crate" || missing+=("$registry/${crate}*")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "install-peers: still missing after install: ${missing[*]}" >&2
  exit 1
fi
echo "install-peers: installed ${need[*]}"
