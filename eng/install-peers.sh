#!/usr/bin/env bash
# Installs the real QUIC peers the interop tests use (../shared/design/PEERS.md), only when missing.
# Idempotent: a machine that has them already does no apt work at all.
set -euo pipefail

need=()
command -v gtlsclient >/dev/null 2>&1 || need+=(ngtcp2-client)
command -v gtlsserver >/dev/null 2>&1 || need+=(ngtcp2-server)
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/lucas-clemente/quic-go ] || need+=(golang-github-lucas-clemente-quic-go-dev)
command -v openssl >/dev/null 2>&1 || need+=(openssl)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-peers: all peers present"
  exit 0
fi

echo "install-peers: installing ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
