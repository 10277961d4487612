#!/usr/bin/env bash
# The rollover demo: the sample site as v1 under HTTP/3 load from quicsteer-load, then v2, v3 and v4 started one after
# another beside it on the same port. Each new generation takes every new connection once it has started; the one before it sends GOAWAY,
# finishes its requests and exits by itself. Prints the load tool's summary and a per-second timeline of which version
# answered, and writes the timeline as SVG (artifacts/rollover/timeline.svg) with markers where each version first and
# last answered.
#   eng/demo-rollover.sh [--port 5453] [--interval 6] [--versions 4] [--dataplane Automatic|ReuseportCbpf|ReuseportEbpf|Forwarding]
#                        [--out DIR] [--no-build]
# Exits 1 when any request failed or a superseded version did not drain and exit by itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=5453 interval=6 versions=4 dataplane=Automatic out="" build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --dataplane) dataplane=$2; shift 2 ;;
    --versions) versions=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: eng/demo-rollover.sh [--port N] [--interval SECONDS] [--versions N] [--dataplane MODE]" >&2; exit 2 ;;
  esac
done
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=${out:-$root/artifacts/rollover}
mkdir -p "$out"
site="$root/samples/SampleSite/bin/Release/net10.0/SampleSite.dll"
load="$root/src/AspNetQuicSteer.LoadTool/bin/Release/net10.0/quicsteer-load.dll"
if [ "$build" = 1 ]; then
  echo "demo-rollover: building the sample site and quicsteer-load (Release)..." >&2
  dotnet build "$root/samples/SampleSite/SampleSite.csproj" -c Release -v quiet -nologo >&2
  dotnet build "$root/src/AspNetQuicSteer.LoadTool/AspNetQuicSteer.LoadTool.csproj" -c Release -v quiet -nologo >&2
fi
[ -f "$site" ] && [ -f "$load" ] || { echo "demo-rollover: $site or $load is missing (run without --no-build)" >&2; exit 1; }

# A short probation and drain timeout, so that a superseded version exits within the demo.
export QuicSteering__Transport__Dataplane=$dataplane QuicSteering__Transport__Probation=00:00:02 QuicSteering__DrainTimeout=00:00:15
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start() { # version
  APP_VERSION=$1 dotnet "$site" --contentRoot "$(dirname "$site")" --urls "https://127.0.0.1:$port" >"$out/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -q "is now Active" "$out/$1.log" 2>/dev/null && { echo "demo-rollover: $1 is active (pid $!)" >&2; return; }; sleep 0.1; done
  echo "demo-rollover: $1 did not become active; its log:" >&2; cat "$out/$1.log" >&2; exit 1
}

start v1
duration=$((interval * versions + 2))
dotnet "$load" "https://127.0.0.1:$port/hello" -c 4 -m 8 -d "${duration}s" --insecure --timeline 100ms \
  --group-by-header x-app-version --json "$out/run.json" >"$out/load.txt" 2>&1 &
loadpid=$!
for n in $(seq 2 "$versions"); do sleep "$interval"; start "v$n"; done
wait "$loadpid" || true
cat "$out/load.txt"
dotnet "$load" timeline-svg "$out/run.json" "$out/timeline.svg" >&2

# Per-second view of the same timeline: requests answered by each version, and failures.
python3 - "$out/run.json" <<'PY' || echo "(python3 not found: the SVG has the timeline)" >&2
import json, sys
run = json.load(open(sys.argv[1]))
t = run["timeline"]; names = t["groups"]; per = 1000 // t["bucketMilliseconds"]
print("second  " + "  ".join(f"{n:>7}" for n in names) + "   failed")
b = t["buckets"]
for s in range(0, len(b), per):
    chunk = b[s:s + per]
    counts = [sum(x["groups"][i] for x in chunk if i < len(x["groups"])) for i in range(len(names))]
    print(f"{s // per:>6}  " + "  ".join(f"{c:>7}" for c in counts) + f"   {sum(x['failed'] for x in chunk):>6}")
PY
# Every superseded version exits by itself once drained (probation 2 s, drain timeout 15 s): give the last one time.
for n in $(seq 1 $((versions - 1))); do
  for _ in $(seq 1 200); do kill -0 "${pids[$((n - 1))]}" 2>/dev/null || break; sleep 0.1; done
done
status=0
for n in $(seq 1 $((versions - 1))); do
  if grep -h "Generation drained" "$out/v$n.log" | sed "s/^ *//; s/^/demo-rollover: v$n: /" >&2; then :; else
    echo "demo-rollover: v$n did not report its drain" >&2; status=1
  fi
done
grep -q "^failures: 0 " "$out/load.txt" || { echo "demo-rollover: requests failed" >&2; status=1; }
echo "demo-rollover: timeline picture: $out/timeline.svg" >&2
exit $status
