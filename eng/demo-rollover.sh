#!/usr/bin/env bash
# The rollover demo (issue 7): the sample site as v1 under HTTP/3 load, then v2, v3 and v4 started one after another
# beside it on the same port. Each new generation takes every new connection once it is Active; the one before it
# sends GOAWAY, finishes its requests and exits by itself.
#
# Load: quicsteer-load (4 connections x 8 streams, timeline per 100 ms by x-app-version, printed live) plus a loop of
# ngtcp2's gtlsclient, one new connection per run. Checks, each failing the demo (exit 1):
#   - no quicsteer-load request and no gtlsclient run failed;
#   - every superseded version logged "Generation drained" and exited by itself (status 0) within the drain timeout,
#     counted from its successor's activation;
#   - every gtlsclient run that started after a version's activation was served by that version or a newer one
#     (activation time = the timestamp of the "is now Active" line in the version's log, or of its predecessor's
#     "is now Draining" line when that is earlier).
# Prints the figures for the closing note: failed requests, drain time of each old version, p99 latency in steady
# state vs within ±1 s of the activations, gtlsclient runs per version. Writes timeline.svg with a marker at each
# activation and each exit.
#   eng/demo-rollover.sh [--port 5453] [--interval 6] [--versions 4] [--dataplane Automatic|ReuseportCbpf|ReuseportEbpf|Forwarding]
#                        [--live 100ms|off] [--out DIR] [--no-build]
# gtlsclient comes from eng/install-peers.sh (package ngtcp2-client); without it the demo warns and skips that part,
# except under CI=true, where it fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=5453 interval=6 versions=4 dataplane=Automatic out="" build=1 live=100ms
while [ $# -gt 0 ]; do
  case "$1" in
    --port) port=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    --dataplane) dataplane=$2; shift 2 ;;
    --versions) versions=$2; shift 2 ;;
    --live) live=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: eng/demo-rollover.sh [--port N] [--interval SECONDS] [--versions N] [--dataplane MODE] [--live TIME|off] [--out DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
[ "$versions" -ge 2 ] || { echo "demo-rollover: --versions must be at least 2" >&2; exit 2; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=${out:-$root/artifacts/rollover}
mkdir -p "$out"
rm -f "$out"/v*.log "$out"/v*.pid "$out"/v*.exit "$out"/gtls.tsv "$out"/gtls-failed-*.txt "$out"/stop-gtls
# An unprivileged account (nobody) often has no writable home: the sample site keeps its development certificate
# there, and dotnet its first-run files.
if ! { [ -n "${HOME:-}" ] && [ -d "$HOME" ] && [ -w "$HOME" ]; }; then export HOME="$out/home"; mkdir -p "$HOME"; fi
export DOTNET_CLI_HOME=${DOTNET_CLI_HOME:-$HOME}
site="$root/samples/SampleSite/bin/Release/net10.0/SampleSite.dll"
load="$root/src/AspNetQuicSteer.LoadTool/bin/Release/net10.0/quicsteer-load.dll"
if [ "$build" = 1 ]; then
  echo "demo-rollover: building the sample site and quicsteer-load (Release)..." >&2
  dotnet build "$root/samples/SampleSite/SampleSite.csproj" -c Release -v quiet -nologo >&2
  dotnet build "$root/src/AspNetQuicSteer.LoadTool/AspNetQuicSteer.LoadTool.csproj" -c Release -v quiet -nologo >&2
fi
[ -f "$site" ] && [ -f "$load" ] || { echo "demo-rollover: $site or $load is missing (run without --no-build)" >&2; exit 1; }

gtls=$(command -v gtlsclient || true)
if [ -z "$gtls" ]; then
  if [ "${CI:-}" = true ]; then echo "demo-rollover: gtlsclient not found (eng/install-peers.sh installs ngtcp2-client); required under CI=true" >&2; exit 1; fi
  echo "demo-rollover: WARNING: gtlsclient not found (eng/install-peers.sh installs ngtcp2-client): no new-connection checks with a foreign client" >&2
fi
echo "demo-rollover: running as $(id -un) (uid $(id -u)), dataplane $dataplane, port $port, out $out" >&2

# Wall clock in Unix ms without a fork (bash 5's EPOCHREALTIME is seconds.microseconds).
now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
# The log lines carry a UTC timestamp to the millisecond, so events can be placed exactly on the load's timeline
# (FormatterName must be set, or the console logger ignores FormatterOptions).
export Logging__Console__FormatterName=simple Logging__Console__FormatterOptions__SingleLine=true Logging__Console__FormatterOptions__UseUtcTimestamp=true \
  Logging__Console__FormatterOptions__TimestampFormat='yyyy-MM-ddTHH:mm:ss.fffZ '
log_ms() { date -u -d "$1" +%s%3N; }
hms() { date -u -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" +%H:%M:%S.%3N; }

# A short probation and drain timeout, so that a superseded version exits within the demo.
drain_timeout=15
export QuicSteering__Transport__Dataplane=$dataplane QuicSteering__Transport__Probation=00:00:02 QuicSteering__DrainTimeout=00:00:$drain_timeout
loadpid="" gtlspid="" mode_seen="?"
cleanup() {
  touch "$out/stop-gtls" 2>/dev/null || true
  [ -n "$loadpid" ] && kill -TERM "$loadpid" 2>/dev/null || true
  for f in "$out"/v*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

declare -A active_ms exit_ms exit_status
start() { # version
  local v=$1
  # The subshell waits for the site and records when and how it exited: the exit time is an event of the timeline.
  (
    APP_VERSION=$v dotnet "$site" --contentRoot "$(dirname "$site")" --urls "https://127.0.0.1:$port" >"$out/$v.log" 2>&1 &
    echo $! >"$out/$v.pid"
    rc=0; wait $! || rc=$?
    echo "$rc $(now_ms)" >"$out/$v.exit"
  ) &
  # Generous: on a busy 2-core machine a new version can take several seconds to start beside the load.
  local deadline=$(($(now_ms) + 45000))
  while [ "$(now_ms)" -lt "$deadline" ]; do
    local line
    line=$(grep -m1 "is now Active" "$out/$v.log" 2>/dev/null || true)
    if [ -n "$line" ]; then
      active_ms[$v]=$(log_ms "${line%% *}")
      local mode=${line##*(}; mode=${mode%%)*}
      echo "demo-rollover: $v is Active at $(hms "${active_ms[$v]}") ($mode, pid $(cat "$out/$v.pid"), seen $(($(now_ms) - active_ms[$v])) ms later)" >&2
      if [ "$v" = v1 ]; then mode_seen=$mode; fi
      return 0
    fi
    [ -f "$out/$v.exit" ] && break
    sleep 0.1
  done
  echo "demo-rollover: $v did not become active; its log:" >&2; cat "$out/$v.log" >&2; exit 1
}

# gtlsclient in a loop, a new connection each run: "run start_ms end_ms exit status version ok" per line.
gtls_loop() {
  local i=0
  while [ ! -e "$out/stop-gtls" ]; do
    i=$((i + 1))
    local t0 t1 text rc=0 status=- version=- ok=0 body=0
    t0=$(now_ms)
    text=$(timeout 10 "$gtls" --exit-on-all-streams-close 127.0.0.1 "$port" "https://127.0.0.1:$port/hello" 2>&1) || rc=$?
    t1=$(now_ms)
    [[ $text =~ \[:status:\ ([0-9]+)\] ]] && status=${BASH_REMATCH[1]}
    [[ $text =~ \[x-app-version:\ ([^]]+)\] ]] && version=${BASH_REMATCH[1]}
    [[ $text =~ \[content-length:\ ([0-9]+)\] ]] && length=${BASH_REMATCH[1]} || length=-1
    # gtlsclient exits 0 even when the handshake times out: success is a 200 with the version header and a whole body.
    while read -r _ _ _ _ n _; do body=$((body + n)); done < <(grep -a "^http: stream 0x0 body [0-9]* bytes" <<<"$text" || true)
    if [ "$rc" = 0 ] && [ "$status" = 200 ] && [ "$version" != - ] && [ "$body" = "$length" ]; then ok=1; else printf '%s\n' "$text" >"$out/gtls-failed-$i.txt"; fi
    echo "$i $t0 $t1 $rc $status $version $ok" >>"$out/gtls.tsv"
  done
}

start v1
progress=(--progress "$live")
[ "$live" = off ] && progress=(--quiet)
# Open-ended: the demo stops the load with SIGTERM (the summary and JSON are still written) once the last version
# has served for one interval; -d only bounds a demo that died.
dotnet "$load" "https://127.0.0.1:$port/hello" -c 4 -m 8 -d 600s --insecure --timeline 100ms \
  --group-by-header x-app-version --json "$out/run.json" "${progress[@]}" >"$out/load.txt" 2> >(tee "$out/progress.txt" >&2) &
loadpid=$!
if [ -n "$gtls" ]; then gtls_loop & gtlspid=$!; fi
for n in $(seq 2 "$versions"); do sleep "$interval"; start "v$n"; done
sleep "$interval"
touch "$out/stop-gtls"
[ -n "$gtlspid" ] && wait "$gtlspid"
kill -TERM "$loadpid"
load_status=0; wait "$loadpid" || load_status=$?
loadpid=""
sleep 0.2 # let tee flush the last progress lines
cat "$out/load.txt"

status=0
# The activation time of each later version: its own "is now Active" line, or its predecessor's "is now Draining" when
# that came first (the predecessor learns of the switch from the coordinator and may log it before the new version has
# finished its own refresh): the earliest evidence, so the new-connection check below is the stricter one.
for n in $(seq 2 "$versions"); do
  line=$(grep -m1 "is now Draining" "$out/v$((n - 1)).log" 2>/dev/null || true)
  if [ -n "$line" ]; then
    t=$(log_ms "${line%% *}")
    if [ "$t" -lt "${active_ms[v$n]}" ]; then
      echo "demo-rollover: v$n activation taken at $(hms "$t") (v$((n - 1)) Draining), $((active_ms[v$n] - t)) ms before v$n logged Active" >&2
      active_ms[v$n]=$t
    fi
  fi
done
# Every superseded version exits by itself once drained: wait up to the drain timeout (plus shutdown) from its
# successor's activation.
last=v$versions
for n in $(seq 1 $((versions - 1))); do
  v=v$n next=v$((n + 1))
  deadline=$((active_ms[$next] + (drain_timeout + 5) * 1000))
  while [ ! -f "$out/$v.exit" ] && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.1; done
  if [ -f "$out/$v.exit" ]; then
    read -r rc t <"$out/$v.exit"; exit_status[$v]=$rc exit_ms[$v]=$t
  else
    echo "demo-rollover: $v did not exit within $((drain_timeout + 5)) s of $next's activation" >&2; status=1
  fi
  if grep -h "Generation drained" "$out/$v.log" | sed "s/^[^ ]* *//; s/^/demo-rollover: $v: /" >&2; then :; else
    echo "demo-rollover: $v did not report its drain" >&2; status=1
  fi
done

# Marks for the picture and the latency windows: activations (v2 on) and exits.
marks=() around=()
for n in $(seq 2 "$versions"); do marks+=(--mark "v$n active=${active_ms[v$n]}"); around+=(--mark "v$n active=${active_ms[v$n]}"); done
for n in $(seq 1 $((versions - 1))); do [ -n "${exit_ms[v$n]:-}" ] && marks+=(--mark "v$n exit=${exit_ms[v$n]}"); done
dotnet "$load" timeline-svg "$out/run.json" "$out/timeline.svg" "${marks[@]}" >&2 || status=1
dotnet "$load" timeline-stats "$out/run.json" "${around[@]}" --radius 1s >"$out/stats.txt" || status=1
sed 's/^/demo-rollover: latency: /' "$out/stats.txt" >&2

# Per-second view of the timeline: requests answered by each version, and failures.
python3 - "$out/run.json" <<'PY' || echo "(python3 not found: the live lines and the SVG have the timeline)" >&2
import json, sys
run = json.load(open(sys.argv[1]))
t = run["timeline"]; names = t["groups"]; per = round(1000 / t["bucketMilliseconds"])
print("second  " + "  ".join(f"{n:>7}" for n in names) + "   failed   p99 ms")
b = t["buckets"]
for s in range(0, len(b), per):
    chunk = b[s:s + per]
    counts = [sum(x["groups"][i] for x in chunk if i < len(x["groups"])) for i in range(len(names))]
    p99 = max((x["latency"]["p99Ms"] for x in chunk if x.get("latency")), default=0)
    print(f"{s // per:>6}  " + "  ".join(f"{c:>7}" for c in counts) + f"   {sum(x['failed'] for x in chunk):>6}   {p99:>6.1f}")
PY

# gtlsclient: every run that started after an activation must have been served by that version or a newer one.
gtls_summary="not run (gtlsclient missing)" violations=0 gtls_failed=0
if [ -n "$gtls" ]; then
  acts=""
  for n in $(seq 1 "$versions"); do acts+="$n ${active_ms[v$n]} "; done
  report=$(awk -v acts="$acts" -v out="$out" '
    BEGIN { n = split(acts, a, " "); for (i = 1; i < n; i += 2) act[a[i]] = a[i + 1]; versions = n / 2 }
    {
      runs++
      if ($7 != 1) { failed++; printf "demo-rollover: gtlsclient run %d failed (exit %s, status %s, version %s): %s/gtls-failed-%d.txt\n", $1, $4, $5, $6, out, $1; next }
      served = substr($6, 2) + 0; by[served]++
      expected = 0; for (v = 1; v <= versions; v++) if (act[v] <= $2) expected = v
      if (served < expected) { bad++; printf "demo-rollover: VIOLATION: gtlsclient run %d started %d ms after v%d was Active but was served by v%d\n", $1, $2 - act[expected], expected, served }
      else if (served > expected) early++
    }
    END {
      s = ""; for (v = 1; v <= versions; v++) s = s sprintf("%sv%d %d", v > 1 ? ", " : "", v, by[v] + 0)
      printf "SUMMARY %d %d %d %d %s\n", runs, failed + 0, bad + 0, early + 0, s
    }' "$out/gtls.tsv")
  grep -v '^SUMMARY' <<<"$report" >&2 || true
  read -r _ runs gtls_failed violations early by <<<"$(grep '^SUMMARY' <<<"$report")"
  gtls_summary="$runs runs, $gtls_failed failed; by version: $by; $violations served by an older generation after a newer one was Active ($early by a version that became Active while the run started)"
  [ "$runs" -gt 0 ] || { echo "demo-rollover: gtlsclient never ran" >&2; status=1; }
  [ "$gtls_failed" = 0 ] && [ "$violations" = 0 ] || status=1
fi

# The closing note's figures.
failures=$(sed -n 's/^failures: \([0-9]*\) .*/\1/p' "$out/load.txt")
completed=$(sed -n 's/^requests: .* \([0-9]*\) completed.*/\1/p' "$out/load.txt")
drains=""
for n in $(seq 1 $((versions - 1))); do
  v=v$n next=v$((n + 1))
  if [ -n "${exit_ms[$v]:-}" ]; then
    d=$((exit_ms[$v] - active_ms[$next]))
    drains+="$v $(printf '%d.%03d' $((d / 1000)) $((d % 1000))) s (exit ${exit_status[$v]}), "
    [ "${exit_status[$v]}" = 0 ] || { echo "demo-rollover: $v exited with status ${exit_status[$v]}" >&2; status=1; }
    [ "$d" -le $((drain_timeout * 1000)) ] || { echo "demo-rollover: $v took longer than the drain timeout (${drain_timeout} s) to exit" >&2; status=1; }
  else
    drains+="$v did not exit, "
  fi
done
steady=$(sed -n 's/^steady.* p99 \([0-9.]*\) ms.*/\1/p' "$out/stats.txt")
rollover=$(sed -n 's/^rollover.* p99 \([0-9.]*\) ms.*/\1/p' "$out/stats.txt")
[ "$failures" = 0 ] && [ "$load_status" = 0 ] || { echo "demo-rollover: quicsteer-load requests failed (exit $load_status)" >&2; status=1; }
{
  echo "== rollover summary: $((versions - 1)) rollovers, dataplane $dataplane ($mode_seen), as $(id -un) =="
  echo "failed requests: quicsteer-load ${failures:-?} of ${completed:-?} completed; gtlsclient $gtls_failed"
  echo "drain (successor Active -> exit, limit $drain_timeout s): ${drains%, }"
  echo "p99 latency: steady ${steady:-?} ms, within ±1 s of activations ${rollover:-?} ms"
  echo "gtlsclient: $gtls_summary"
  echo "timeline picture: $out/timeline.svg"
  [ "$status" = 0 ] && echo "result: PASS" || echo "result: FAIL"
} | tee "$out/summary.txt"
exit $status
