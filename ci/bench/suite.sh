#!/usr/bin/env bash
# Wall time of the whole suite (docs/PERFORMANCE.md, "The suite"): runs `backproof run`
# RUNS times (default 3) one after another and prints, per run and as the median over the
# runs, the process's wall time and the time spent in each family's cases (summed from the
# report's `timings`; with --jobs > 1 cases overlap, so families add up to more than the
# wall time).
#
# Usage: ci/bench/suite.sh [BINARY] [-- RUN ARGS…]
#   BINARY    default: ${CARGO_TARGET_DIR:-target}/release/backproof (build it first:
#             cargo build --release)
#   RUN ARGS  passed to `backproof run`, e.g. -- --jobs 4 or -- --filter 'conflict/*'
# Env: RUNS (default 3), KEEP=1 keeps the reports (their folder is printed).
# Exit: 0 every run passed; 1 a run had failing cases (its times are still printed);
# 2 a run could not start (its log is printed).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}

bin="${CARGO_TARGET_DIR:-target}/release/backproof"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  bin=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
[ -x "$bin" ] || { echo "suite.sh: $bin is not an executable; build it or pass its path" >&2; exit 2; }
command -v python3 >/dev/null || { echo "suite.sh: python3 is not on PATH" >&2; exit 2; }

tmp=$(mktemp -d)
if [ "${KEEP:-0}" = 1 ]; then
  echo "reports kept in $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi

worst=0
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s%N)
  code=0
  "$bin" run --quiet --report "$tmp/run$i/report.json" "$@" >"$tmp/run$i.log" 2>&1 || code=$?
  end=$(date +%s%N)
  echo $(((end - start) / 1000000)) >"$tmp/run$i.wall_ms"
  if [ "$code" -ge 2 ] || [ ! -f "$tmp/run$i/report.json" ]; then
    echo "suite.sh: run $i could not run (exit $code):" >&2
    cat "$tmp/run$i.log" >&2
    exit 2
  fi
  [ "$code" -gt "$worst" ] && worst=$code
  echo "run $i: exit $code, $(tail -n 5 "$tmp/run$i.log" | grep -m1 'passed,' || echo 'no summary line')"
done

python3 - "$tmp" "$RUNS" <<'EOF'
import json, statistics, sys
from pathlib import Path

tmp, runs = Path(sys.argv[1]), int(sys.argv[2])
# The report's family order (backproof_report::FAMILIES), then any other alphabetically.
ORDER = ["vectors", "conflict", "wrong-passphrase", "corrupted-blob",
         "mid-rotation-crash", "smart-recovery", "hygiene", "protocol"]
walls, report_walls, families, slowest = [], [], {}, {}
for i in range(1, runs + 1):
    walls.append(int((tmp / f"run{i}.wall_ms").read_text()))
    r = json.loads((tmp / f"run{i}" / "report.json").read_text())
    report_walls.append(r["timings"]["wall_ms"])
    per = {}
    for c in r["cases"]:
        ms = r["timings"]["cases"].get(c["id"], 0)
        per[c["family"]] = per.get(c["family"], 0) + ms
        slowest.setdefault(c["id"], []).append(ms)
    for f, ms in per.items():
        families.setdefault(f, []).append(ms)

def s(ms):
    return f"{ms / 1000:.1f}s"

order = sorted(families, key=lambda f: (ORDER.index(f) if f in ORDER else len(ORDER), f))
print()
print(f"{'':22}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(runs)) + f"{'median':>10}")
print(f"{'wall (process)':22}" + "".join(f"{s(w):>10}" for w in walls) + f"{s(statistics.median(walls)):>10}")
print(f"{'wall (report)':22}" + "".join(f"{s(w):>10}" for w in report_walls) + f"{s(statistics.median(report_walls)):>10}")
for f in order:
    v = families[f]
    print(f"{f:22}" + "".join(f"{s(x):>10}" for x in v) + f"{s(statistics.median(v)):>10}")
print()
top = sorted(slowest.items(), key=lambda kv: -statistics.median(kv[1]))[:5]
print("slowest cases (median): " + " · ".join(f"{k} {s(statistics.median(v))}" for k, v in top))
EOF
exit "$worst"
