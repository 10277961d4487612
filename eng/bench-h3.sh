#!/usr/bin/env bash
# Bounded HTTP/3 benchmark (test/interop/H3.md): for each server, small-request throughput (h3client load:
# CONNS connections x STREAMS concurrent GETs of a small resource for DURATION seconds) and single-stream
# bulk download speed (h3client bulk: one GET of BULK bytes on one stream, median of BULK_RUNS runs).
#
#   eng/bench-h3.sh [--duration 10] [--conns 4] [--streams 16] [--bulk-bytes 104857600] [--bulk-runs 3]
#                   [--target NAME=URLBASE]... [--start-sample] [--sample-dll PATH] [--no-ngtcp2] [--no-quicgo]
#                   [--with-quicsteer-load]
#
# Servers (each bound to 127.0.0.1, started here unless given as --target, killed on exit):
#   ngtcp2    gtlsserver -q -d DOCROOT --max-dyn-length=BULK 127.0.0.1 PORT KEY CERT: small = /hello (a 26-byte
#             file in DOCROOT), bulk = /BULK (ngtcp2 generates N bytes of zeros for "/<N>"; its default
#             --max-dyn-length is 20M, hence the option)
#   quic-go   artifacts/peers/bin/h3server: small = /hello, bulk = /bytes/BULK
#   --target NAME=URLBASE   an already running server: small = URLBASE/hello, bulk = URLBASE/bytes/BULK
#   --start-sample          dotnet samples/SampleSite/bin/Release/net10.0/SampleSite.dll --urls https://127.0.0.1:PORT
#             with Kestrel__EndpointDefaults__Protocols=Http1AndHttp2AndHttp3 (a --urls endpoint is Http1AndHttp2
#             otherwise) and Kestrel__Certificates__Default__Path/KeyPath = the bench's P-256 certificate;
#             HTTP/3 on UDP PORT; skipped with a message when the dll (or dotnet) is missing
# --with-quicsteer-load   also runs the project's load tool (src/AspNetQuicSteer.LoadTool, built here) with the same
#             load and one bulk download per server, next to h3client: columns qsl req/s, qsl MB/s and qsl/h3client.
# The client is h3client (quic-go 0.29) with -insecure; client and servers share this machine's cores, so the
# figures are relative: read the ratio columns. Every phase is bounded (timeout), a failed phase is reported
# as FAILED in the table and makes the exit code 1, as do failed load requests (the req/s figure is kept and
# marked with *, the first error is shown). Output: BENCH lines (machine-readable) and a table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/artifacts/peers/bin"

duration=10 conns=4 streams=16 bulk=104857600 bulk_runs=3
use_ngtcp2=1 use_quicgo=1 start_sample=0 with_qsl=0
sample_dll="$root/samples/SampleSite/bin/Release/net10.0/SampleSite.dll"
targets=()
usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --streams) streams=$2; shift 2 ;;
    --bulk-bytes) bulk=$2; shift 2 ;;
    --bulk-runs) bulk_runs=$2; shift 2 ;;
    --target) [[ "$2" == *=https://* ]] || { echo "bench-h3: --target wants NAME=https://HOST:PORT[/base]" >&2; exit 2; }
              targets+=("$2"); shift 2 ;;
    --start-sample) start_sample=1; shift ;;
    --sample-dll) sample_dll=$2; shift 2 ;;
    --no-ngtcp2) use_ngtcp2=0; shift ;;
    --no-quicgo) use_quicgo=0; shift ;;
    --with-quicsteer-load) with_qsl=1; shift ;;
    -h|--help) usage ;;
    *) echo "bench-h3: unknown argument $1" >&2; usage ;;
  esac
done
for n in "$duration" "$conns" "$streams" "$bulk" "$bulk_runs"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "bench-h3: numbers must be positive integers (got '$n')" >&2; exit 2; }
done

QUICSTEER_SKIP_RUST_PEERS=1 "$root/eng/build-peers.sh" >/dev/null
qsl_dll="$root/src/AspNetQuicSteer.LoadTool/bin/Release/net10.0/quicsteer-load.dll"
if [ "$with_qsl" = 1 ]; then
  dotnet build "$root/src/AspNetQuicSteer.LoadTool" -c Release -v q -nologo >/dev/null || { echo "bench-h3: building quicsteer-load failed" >&2; exit 1; }
fi
command -v openssl >/dev/null || { echo "bench-h3: openssl missing; run eng/install-peers.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/bench-h3.XXXXXX)
pids=() client_pid=
cleanup() {
  local pid
  [ -z "$client_pid" ] || kill "$client_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null

# free_port: a port free for both UDP and TCP on 127.0.0.1 (the sample listens on both).
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if command -v ss >/dev/null; then
      [ -z "$(ss -Hluan "sport = :$p" 2>/dev/null)" ] && [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
    else
      echo "$p"; return
    fi
  done
  echo "bench-h3: no free port found" >&2; return 1
}

# client OUT ERR CMD...: runs CMD in the background, waiting for it, so that a signal reaches our trap at once
# (bash defers traps while a foreground command runs) and the cleanup can stop it.
client() {
  local out=$1 err=$2; shift 2
  "$@" >"$out" 2>"$err" &
  client_pid=$!
  wait "$client_pid" || true
  client_pid=
}

# wait_ready URL SECONDS [PID]: GET URL until it answers 200 (the server's process, if given, must stay alive).
wait_ready() {
  local end=$((SECONDS + $2))
  while [ $SECONDS -lt $end ]; do
    [ -z "${3:-}" ] || kill -0 "$3" 2>/dev/null || return 1
    timeout -k 2 5 "$bin/h3client" get -insecure -timeout 2s "$1" >/dev/null 2>&1 && return 0
    sleep 0.3
  done
  return 1
}

names=() smalls=() bulks=() rps=() errs=() mbs=() qrps=() qmbs=() notes=()
add_server() { names+=("$1"); smalls+=("$2"); bulks+=("$3"); }

if [ "$use_ngtcp2" = 1 ]; then
  if command -v gtlsserver >/dev/null; then
    mkdir -p "$work/www"; printf 'Hello from ngtcp2 over h3\n' > "$work/www/hello"
    port=$(free_port)
    gtlsserver -q -d "$work/www" --max-dyn-length="$bulk" 127.0.0.1 "$port" "$work/key.pem" "$work/cert.pem" \
      >"$work/ngtcp2.log" 2>&1 &
    pids+=($!)
    if wait_ready "https://127.0.0.1:$port/hello" 10 "$!"; then
      add_server ngtcp2 "https://127.0.0.1:$port/hello" "https://127.0.0.1:$port/$bulk"
    else
      echo "bench-h3: ngtcp2 gtlsserver did not come up; log:" >&2; tail -5 "$work/ngtcp2.log" >&2; notes+=("ngtcp2: did not start")
    fi
  else
    notes+=("ngtcp2: skipped (gtlsserver missing; run eng/install-peers.sh)")
  fi
fi

if [ "$use_quicgo" = 1 ]; then
  "$bin/h3server" -addr 127.0.0.1:0 -cert "$work/cert.pem" -key "$work/key.pem" -exit-after 30m >"$work/h3server.log" 2>&1 &
  pids+=($!)
  addr=
  for _ in $(seq 1 50); do
    addr=$(awk '/^LISTENING /{print $2; exit}' "$work/h3server.log")
    [ -n "$addr" ] && break
    sleep 0.1
  done
  if [ -n "$addr" ] && wait_ready "https://$addr/hello" 10 "${pids[-1]}"; then
    add_server quic-go "https://$addr/hello" "https://$addr/bytes/$bulk"
  else
    echo "bench-h3: h3server did not come up; log:" >&2; tail -5 "$work/h3server.log" >&2; notes+=("quic-go: did not start")
  fi
fi

if [ "$start_sample" = 1 ]; then
  if [ ! -f "$sample_dll" ]; then
    echo "bench-h3: sample skipped: $sample_dll does not exist (build it with dotnet build -c Release)"
    notes+=("sample: skipped (not built)")
  elif ! command -v dotnet >/dev/null; then
    echo "bench-h3: sample skipped: dotnet not found"; notes+=("sample: skipped (no dotnet)")
  else
    port=$(free_port)
    # An endpoint from --urls gets Kestrel's default protocols (Http1AndHttp2: no HTTP/3, and the sample's startup
    # check then aborts it), hence EndpointDefaults; the default certificate means no dev certificate is needed.
    (cd "$(dirname "$sample_dll")" && Kestrel__EndpointDefaults__Protocols=Http1AndHttp2AndHttp3 \
      Kestrel__Certificates__Default__Path="$work/cert.pem" \
      Kestrel__Certificates__Default__KeyPath="$work/key.pem" exec dotnet "$sample_dll" --urls "https://127.0.0.1:$port") \
      >"$work/sample.log" 2>&1 &
    pids+=($!)
    if wait_ready "https://127.0.0.1:$port/hello" 60 "$!"; then
      add_server sample "https://127.0.0.1:$port/hello" "https://127.0.0.1:$port/bytes/$bulk"
    else
      echo "bench-h3: sample did not answer https://127.0.0.1:$port/hello over HTTP/3 (exited, or not within 60 s); log:" >&2
      tail -20 "$work/sample.log" >&2; notes+=("sample: did not start / no HTTP/3")
      names+=(sample); smalls+=(-); bulks+=(-)
    fi
  fi
fi

for t in "${targets[@]}"; do
  name=${t%%=*} base=${t#*=}; base=${base%/}
  if wait_ready "$base/hello" 10; then
    add_server "$name" "$base/hello" "$base/bytes/$bulk"
  else
    echo "bench-h3: target $name does not answer $base/hello over HTTP/3 within 10 s" >&2
    notes+=("$name: $base/hello not answering"); names+=("$name"); smalls+=(-); bulks+=(-)
  fi
done

[ ${#names[@]} -gt 0 ] || { echo "bench-h3: no server to measure" >&2; exit 1; }
echo "bench-h3: load ${conns}x${streams} for ${duration}s, bulk $bulk bytes x $bulk_runs; $(nproc) cores; $(uptime | sed 's/.*load average/load average/')"

failed=0
for i in "${!names[@]}"; do
  name=${names[$i]}
  if [ "${smalls[$i]}" = - ]; then rps[$i]=FAILED; errs[$i]=-; mbs[$i]=FAILED; failed=1; continue; fi
  client "$work/load-$i.out" "$work/load-$i.err" timeout -k 5 $((duration + 40)) "$bin/h3client" load -insecure \
    -duration "${duration}s" -conns "$conns" -streams "$streams" -timeout 10s "${smalls[$i]}"
  out=$(cat "$work/load-$i.out")
  errs[$i]=0
  if [[ "$out" =~ requests=([1-9][0-9]*)\ errors=([0-9]+).*rps=([0-9]+) ]]; then
    rps[$i]=${BASH_REMATCH[3]} errs[$i]=${BASH_REMATCH[2]}
    if [ "${errs[$i]}" != 0 ]; then
      # Failed requests are a finding, not noise: keep the figure, flag it, fail the run.
      failed=1
      notes+=("$name: ${errs[$i]} of $((BASH_REMATCH[1] + errs[$i])) load requests failed; first: $(head -c 300 "$work/load-$i.err" | sed 's/^h3client: first error: //')")
    fi
  else
    rps[$i]=FAILED; failed=1
    echo "bench-h3: $name load failed: ${out:-no output} $(head -c 300 "$work/load-$i.err")" >&2
  fi
  results=()
  for _ in $(seq 1 "$bulk_runs"); do
    client "$work/bulk.out" "$work/bulk.err" timeout -k 5 180 "$bin/h3client" bulk -insecure -timeout 150s \
      -expect "$bulk" "${bulks[$i]}"
    out=$(cat "$work/bulk.out")
    if [[ "$out" =~ BULK\ bytes=[0-9]+\ seconds=[0-9.]+\ mbytes_per_s=([0-9.]+) ]]; then
      results+=("${BASH_REMATCH[1]}")
    else
      echo "bench-h3: $name bulk failed: ${out:-no output} $(head -c 300 "$work/bulk.err")" >&2; results=(); break
    fi
  done
  if [ ${#results[@]} -gt 0 ]; then
    mbs[$i]=$(printf '%s\n' "${results[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  else
    mbs[$i]=FAILED; failed=1
  fi
  qrps[$i]=- qmbs[$i]=-
  if [ "$with_qsl" = 1 ]; then
    # Same load with quicsteer-load; its MB are 10^6 bytes, converted to 2^20 here.
    client "$work/qsl-$i.json" "$work/qsl-$i.err" timeout -k 5 $((duration + 40)) dotnet "$qsl_dll" "${smalls[$i]}" --insecure --quiet \
      -d "${duration}s" -c "$conns" -m "$streams" --timeout 10s --json -
    qrps[$i]=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d%s" % (d["requestsPerSecond"], "" if d["failures"]["total"]==0 else "*"))' "$work/qsl-$i.json" 2>/dev/null || echo FAILED)
    client "$work/qslb-$i.json" "$work/qslb-$i.err" timeout -k 5 180 dotnet "$qsl_dll" "${bulks[$i]}" --insecure --quiet -n 1 --timeout 150s --json -
    qmbs[$i]=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.1f" % (d["bytes"]["receivedMegabytesPerSecond"]*1e6/1048576)) if d["failures"]["total"]==0 else print("FAILED")' "$work/qslb-$i.json" 2>/dev/null || echo FAILED)
    case "${qrps[$i]}${qmbs[$i]}" in *FAILED*|*'*'*) failed=1; notes+=("$name: quicsteer-load failures: $(head -c 300 "$work/qsl-$i.err")");; esac
  fi
  echo "BENCH server=$name rps=${rps[$i]} errors=${errs[$i]} mbytes_per_s=${mbs[$i]} bulk_runs=$(IFS=,; echo "${results[*]:-}") qsl_rps=${qrps[$i]} qsl_mbytes_per_s=${qmbs[$i]}"
done

# ratio A B: A/B with two decimals, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else printf "-" }'; }
ref_rps_ng=- ref_mb_ng=- ref_rps_qg=- ref_mb_qg=-
for i in "${!names[@]}"; do
  case "${names[$i]}" in
    ngtcp2) ref_rps_ng=${rps[$i]}; ref_mb_ng=${mbs[$i]} ;;
    quic-go) ref_rps_qg=${rps[$i]}; ref_mb_qg=${mbs[$i]} ;;
  esac
done
echo
printf '%-12s %9s %8s %11s %12s %11s %12s\n' server req/s MB/s "rps/ngtcp2" "rps/quic-go" "MBs/ngtcp2" "MBs/quic-go"
for i in "${!names[@]}"; do
  shown=${rps[$i]}; [ "${errs[$i]}" = 0 ] || [ "${errs[$i]}" = - ] || shown="$shown*"
  printf '%-12s %9s %8s %11s %12s %11s %12s\n' "${names[$i]}" "$shown" "${mbs[$i]}" \
    "$(ratio "${rps[$i]}" "$ref_rps_ng")" "$(ratio "${rps[$i]}" "$ref_rps_qg")" \
    "$(ratio "${mbs[$i]}" "$ref_mb_ng")" "$(ratio "${mbs[$i]}" "$ref_mb_qg")"
done
if [ "$with_qsl" = 1 ]; then
  echo
  printf '%-12s %13s %11s %12s %14s\n' server "qsl req/s" "qsl MB/s" "rps qsl/h3c" "MB/s qsl/h3c"
  for i in "${!names[@]}"; do
    printf '%-12s %13s %11s %12s %14s\n' "${names[$i]}" "${qrps[$i]}" "${qmbs[$i]}" "$(ratio "${qrps[$i]%\*}" "${rps[$i]}")" "$(ratio "${qmbs[$i]}" "${mbs[$i]}")"
  done
fi
echo "(MB = 2^20 bytes; req/s: ${conns} connections x ${streams} streams, ${duration} s; MB/s: median of ${bulk_runs} single-stream ${bulk}-byte downloads)"
echo "(at the end: $(uptime | sed 's/.*load average/load average/'); other work on the machine lowers every figure)"
for i in "${!names[@]}"; do
  case "${errs[$i]}" in 0|-) ;; *) echo "* ${names[$i]}: ${errs[$i]} load requests failed (see the note)";; esac
done
for n in "${notes[@]}"; do echo "note: $n"; done
exit $failed
