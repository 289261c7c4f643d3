#!/usr/bin/env bash
# Builds the fuzz targets on the stable toolchain and runs each one for a few seconds from
# its seed corpus (docs/FUZZING.md). Usage: ci/fuzz-smoke.sh [--dev] [SECONDS_PER_TARGET] [TARGET...]
# --dev builds without optimizations (cargo-fuzz's default release build uses one codegen
# unit): a smoke that proves every target builds, links and runs costs a few CPU-minutes
# instead of many, at fewer executions per second.
# A crash or failed assertion stops the script with the target's exit status; the input
# that did it is left in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=()
if [ "${1:-}" = "--dev" ]; then
  profile=(--dev)
  shift
fi
secs="${1:-5}"
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked --quiet cargo-fuzz
python3 fuzz/seed-corpora.py

cd fuzz
# `-s none`: no sanitizer, the only mode that builds on stable (the others need -Zsanitizer).
start=$(date +%s)
cargo fuzz build -s none "${profile[@]}"
echo "fuzz build: $(( $(date +%s) - start )) s"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  echo "=== $t (${secs} s)"
  log="target/smoke-$t.log"
  mkdir -p target
  if ! cargo fuzz run -s none "${profile[@]}" "$t" -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz target $t failed (input in fuzz/artifacts/$t/)"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
done
