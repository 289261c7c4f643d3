#!/usr/bin/env bash
# Side-by-side ratios on this machine, in one run, alternating the implementations round by
# round so that a change in machine load hits all of them alike (docs/PERFORMANCE.md):
#   Argon2id: ours (backproof-format's derive_ikm, release build, via backproof-primitive-bench)
#             vs libargon2 through Python's argon2-cffi (bundled, optimized build)
#             vs libargon2 through Debian's `argon2` command
#             at (64 MiB, t=3, p=4) and (19 MiB, t=2, p=1), same lanes.
#   AES-256-GCM at 16 KiB: ours vs `openssl speed -evp aes-256-gcm -bytes 16384`.
# Needs: cargo, python3 with argon2-cffi, argon2 (Debian package `argon2`), openssl.
# Env: ROUNDS (default 7), AES_SECONDS (default 3). Each Argon2id sample is one process
# deriving twice: the first derivation is "cold" (fresh process: page faults, thread start),
# the second "warm"; Debian's argon2 command derives once per process, so it has only cold.
# Two clocks: wall time (what a user waits; inflated when other processes compete for the
# cores) and CPU time of the whole process, all threads (what libargon2's command prints;
# steady under load). The ratios that judge the implementation are the CPU-time ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-7}
AES_SECONDS=${AES_SECONDS:-3}

for tool in python3 argon2 openssl cargo; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is not on PATH" >&2; exit 2; }
done
python3 -c 'import argon2.low_level' 2>/dev/null || { echo "compare.sh: pip install argon2-cffi" >&2; exit 2; }

cargo build --quiet --release -p backproof-tune --bin backproof-primitive-bench
BIN="${CARGO_TARGET_DIR:-target}/release/backproof-primitive-bench"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

PASS="correct horse battery staple"
SALT="ZZZZZZZZZZZZZZZZ" # 16 bytes; the same for everyone

ours() { "$BIN" argon2id "$1" "$2" "$3" 2; } # two lines: "WALL_MS CPU_MS"
cffi() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys, time
from argon2.low_level import hash_secret_raw, Type
m, t, p = map(int, sys.argv[1:4])
for _ in range(2):
    cpu, start = time.process_time(), time.perf_counter()
    hash_secret_raw(b"correct horse battery staple", b"Z" * 16, t, m, p, 32, Type.ID)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{wall * 1e3:.3f} {cpu * 1e3:.3f}")
PY
}
cli() {
  # wall: around the whole process (adds its start-up, ~1 ms); CPU: the command's own
  # clock() of the hash, printed as "0.239 seconds"
  local start end cpu
  start=$(date +%s%N)
  cpu=$(printf '%s' "$PASS" | argon2 "$SALT" -id -t "$2" -k "$1" -p "$3" -l 32 \
    | awk '/seconds/ { printf "%.3f", $1 * 1000 }')
  end=$(date +%s%N)
  awk -v s="$start" -v e="$end" -v c="$cpu" 'BEGIN { printf "%.3f %s\n", (e - s) / 1e6, c }'
}

stats() { # stdin: numbers → "median min max n"
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan nan nan 0"; exit }
    med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.1f %.1f %.1f %d\n", med, v[1], v[NR], NR }'
}

echo "machine: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2; exit }'), $(nproc) CPUs"
echo "rounds: $ROUNDS (A/B/C alternating)"
for cfg in "65536 3 4" "19456 2 1"; do
  set -- $cfg
  m=$1 t=$2 p=$3
  rm -f "$TMP"/*.wall "$TMP"/*.cpu
  for _ in $(seq "$ROUNDS"); do
    ours "$m" "$t" "$p" | { read -r a b; read -r c d; echo "$a" >>"$TMP/ours_cold.wall"; echo "$b" >>"$TMP/ours_cold.cpu"
                            echo "$c" >>"$TMP/ours_warm.wall"; echo "$d" >>"$TMP/ours_warm.cpu"; }
    cffi "$m" "$t" "$p" | { read -r a b; read -r c d; echo "$a" >>"$TMP/cffi_cold.wall"; echo "$b" >>"$TMP/cffi_cold.cpu"
                            echo "$c" >>"$TMP/cffi_warm.wall"; echo "$d" >>"$TMP/cffi_warm.cpu"; }
    cli "$m" "$t" "$p" | { read -r a b; echo "$a" >>"$TMP/cli_cold.wall"; echo "$b" >>"$TMP/cli_cold.cpu"; }
  done
  echo
  echo "Argon2id m=$m KiB t=$t p=$p — median (min–max) ms over $ROUNDS rounds"
  printf '  %-10s %-24s %-24s\n' "" "wall" "cpu (all threads)"
  for f in ours_warm cffi_warm ours_cold cffi_cold cli_cold; do
    read -r wm wl wh _ < <(stats <"$TMP/$f.wall")
    read -r cm cl ch _ < <(stats <"$TMP/$f.cpu")
    printf '  %-10s %-24s %-24s\n' "$f" "$wm ($wl–$wh)" "$cm ($cl–$ch)"
    eval "wall_$f=$wm cpu_$f=$cm"
  done
  awk -v a="$wall_ours_warm" -v b="$wall_cffi_warm" -v c="$cpu_ours_warm" -v d="$cpu_cffi_warm" \
      -v e="$cpu_ours_cold" -v f="$cpu_cli_cold" -v g="$wall_ours_cold" -v h="$wall_cli_cold" 'BEGIN {
    printf "  ratio ours/argon2-cffi (warm): wall %.2f  cpu %.2f\n", a / b, c / d
    printf "  ratio ours/argon2 CLI  (cold): wall %.2f  cpu %.2f\n", g / h, e / f }'
done

echo
echo "AES-256-GCM, 16 KiB buffers"
read -r ours_wall ours_cpu < <("$BIN" aes256gcm 16384 "$AES_SECONDS")
# openssl speed divides by user CPU time unless -elapsed is given
ossl() {
  openssl speed "$@" -evp aes-256-gcm -bytes 16384 -seconds "$AES_SECONDS" 2>/dev/null \
    | awk '/^AES-256-GCM|^aes-256-gcm/ { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v * 1000 / 1e6 }'
}
ossl_cpu=$(ossl)
ossl_wall=$(ossl -elapsed)
echo "  ours (aes-gcm crate): wall $ours_wall MB/s, cpu $ours_cpu MB/s"
echo "  openssl speed:        wall $ossl_wall MB/s, cpu $ossl_cpu MB/s"
awk -v a="$ours_cpu" -v b="$ossl_cpu" -v c="$ours_wall" -v d="$ossl_wall" \
  'BEGIN { printf "  ratio ours/openssl throughput: cpu %.2f  wall %.2f\n", a / b, c / d }'
