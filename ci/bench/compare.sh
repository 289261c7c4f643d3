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

ours() { "$BIN" argon2id "$1" "$2" "$3" 2; }
cffi() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys, time
from argon2.low_level import hash_secret_raw, Type
m, t, p = map(int, sys.argv[1:4])
for _ in range(2):
    start = time.perf_counter()
    hash_secret_raw(b"correct horse battery staple", b"Z" * 16, t, m, p, 32, Type.ID)
    print(f"{(time.perf_counter() - start) * 1e3:.3f}")
PY
}
cli() {
  # the verbose output ends with the command's own timing of the hash: "0.239 seconds"
  printf '%s' "$PASS" | argon2 "$SALT" -id -t "$2" -k "$1" -p "$3" -l 32 \
    | awk '/seconds/ { printf "%.3f\n", $1 * 1000 }'
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
  : >"$TMP/ours.cold"; : >"$TMP/ours.warm"; : >"$TMP/cffi.cold"; : >"$TMP/cffi.warm"; : >"$TMP/cli.cold"
  for _ in $(seq "$ROUNDS"); do
    ours "$m" "$t" "$p" | { read -r a; read -r b; echo "$a" >>"$TMP/ours.cold"; echo "$b" >>"$TMP/ours.warm"; }
    cffi "$m" "$t" "$p" | { read -r a; read -r b; echo "$a" >>"$TMP/cffi.cold"; echo "$b" >>"$TMP/cffi.warm"; }
    cli "$m" "$t" "$p" >>"$TMP/cli.cold"
  done
  echo
  echo "Argon2id m=$m KiB t=$t p=$p — median (min–max) ms over $ROUNDS"
  for f in ours.warm cffi.warm ours.cold cffi.cold cli.cold; do
    read -r med lo hi n < <(stats <"$TMP/$f")
    printf '  %-10s %8s  (%s–%s)\n' "$f" "$med" "$lo" "$hi"
    eval "med_${f/./_}=$med"
  done
  awk -v a="$med_ours_warm" -v b="$med_cffi_warm" -v c="$med_ours_cold" -v d="$med_cffi_cold" -v e="$med_cli_cold" 'BEGIN {
    printf "  ratio ours/argon2-cffi warm: %.2f   cold: %.2f   ours cold/argon2 CLI: %.2f\n", a / b, c / d, c / e }'
done

echo
echo "AES-256-GCM, 16 KiB buffers"
ours_aes=$("$BIN" aes256gcm 16384 "$AES_SECONDS")
ossl=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds "$AES_SECONDS" 2>/dev/null \
  | awk '/^AES-256-GCM|^aes-256-gcm/ { v = $NF; sub(/k$/, "", v); printf "%.1f\n", v * 1000 / 1e6 }')
echo "  ours (aes-gcm crate): $ours_aes MB/s"
echo "  openssl speed:        $ossl MB/s"
awk -v a="$ours_aes" -v b="$ossl" 'BEGIN { printf "  ratio ours/openssl throughput: %.2f\n", a / b }'
