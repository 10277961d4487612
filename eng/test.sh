#!/usr/bin/env bash
# Runs every test of the product on a fresh machine: installs interop peers, restores, builds, tests.
# Ends with one summary line. Exit code 0 only when every test project passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 CI="${CI:-true}"

start=$(date +%s)
"$root/eng/install-peers.sh" || { echo "TEST SUMMARY: FAILED (peer installation)"; exit 1; }
"$root/eng/build-peers.sh" || { echo "TEST SUMMARY: FAILED (building interop peer programs)"; exit 1; }

dotnet restore AspNetQuicSteer.sln || { echo "TEST SUMMARY: FAILED (restore)"; exit 1; }
dotnet build AspNetQuicSteer.sln -c Release --no-restore || { echo "TEST SUMMARY: FAILED (build)"; exit 1; }

results="$root/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"
status=0
for proj in test/*.Tests/*.csproj; do
  name=$(basename "$proj" .csproj)
  echo "== $name"
  dotnet test "$proj" -c Release --no-build --logger "trx;LogFileName=$name.trx" --results-directory "$results" \
    -- RunConfiguration.TestSessionTimeout=1500000 || status=1
done

totals=$(python3 - "$results" <<'PY' 2>/dev/null || echo "counts unavailable"
import sys, glob, xml.etree.ElementTree as ET
ns = {'t': 'http://microsoft.com/schemas/VisualStudio/TeamTest/2010'}
tot = {'total': 0, 'passed': 0, 'failed': 0, 'notExecuted': 0}
for f in glob.glob(sys.argv[1] + '/*.trx'):
    c = ET.parse(f).getroot().find('.//t:ResultSummary/t:Counters', ns)
    for k in tot: tot[k] += int(c.get(k, 0))
print(f"{tot['total']} tests, {tot['passed']} passed, {tot['failed']} failed, {tot['notExecuted']} skipped")
PY
)
elapsed=$(( $(date +%s) - start ))
if [ $status -eq 0 ]; then
  echo "TEST SUMMARY: PASSED ($totals) in ${elapsed}s"
else
  echo "TEST SUMMARY: FAILED ($totals) in ${elapsed}s"
fi
exit $status
