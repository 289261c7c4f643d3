#!/usr/bin/env bash
# A fuzz campaign (docs/FUZZING.md "Campaigns"): each target runs from its seeds for
# RUNS executions or SECONDS, whichever ends first, under `nice`, JOBS targets at a time,
# and one line per target gives what libFuzzer counted. Targets must be built
# (`cargo fuzz build -s none`, or ci/fuzz-smoke.sh). Logs: fuzz/target/campaign-<target>.log.
# Usage: ci/fuzz-campaign.sh [RUNS] [SECONDS] [JOBS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

runs="${1:-10000000}"
secs="${2:-3600}"
jobs="${3:-1}"
shift 3 || shift $#
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
mkdir -p target

one() {
  local t="$1" log="target/campaign-$1.log" start rc
  start=$(date +%s)
  rc=0
  nice -n 15 cargo fuzz run -s none "$t" -- -runs="$runs" -max_total_time="$secs" \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  local execs eps
  execs=$(grep -oP '^stat::number_of_executed_units:\s*\K\d+' "$log" | tail -1)
  eps=$(grep -oP '^stat::average_exec_per_sec:\s*\K\d+' "$log" | tail -1)
  printf '%-16s exit=%s execs=%s exec/s=%s wall=%ss\n' "$t" "$rc" "${execs:-?}" "${eps:-?}" \
    "$(( $(date +%s) - start ))"
}

running=0
for t in "${targets[@]}"; do
  one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
