#!/usr/bin/env bash
# Schema-driven probing of the live reference server against docs/openapi.yaml with
# schemathesis (PyPI): every operation, every phase (examples, coverage, fuzzing and the
# stateful phase that follows the document's links), every check, with a bearer token.
# Pass: 0 server errors and every response conforming to the document (docs/API.md,
# "Probing with schemathesis"). Loopback only; the server and its throwaway stack are
# stopped on exit.
# Env: MAX_EXAMPLES (default 30 per operation and phase), SCHEMATHESIS (the command,
# default `schemathesis`), BACKPROOF (the binary; default: cargo build, then target/debug).
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
ST=${SCHEMATHESIS:-schemathesis}
command -v "$ST" >/dev/null || { echo "schemathesis.sh: pip install schemathesis" >&2; exit 2; }
if [ -z "${BACKPROOF:-}" ]; then
  cargo build --quiet --bin backproof
  BACKPROOF="${CARGO_TARGET_DIR:-target}/debug/backproof"
fi

TMP=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A short body timeout keeps a generated request whose Content-Length promises more than it
# sends from holding a worker for 30 s.
"$BACKPROOF" serve --listen "127.0.0.1:$PORT" --auth-secret "$SECRET" --body-idle-timeout 2s \
  >"$TMP/server.out" 2>"$TMP/server.log" &
SERVER_PID=$!
for _ in $(seq 1 600); do # the throwaway stack starts in seconds; bounded at 120 s
  grep -q '^listening on ' "$TMP/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; exit 1; }
  sleep 0.2
done
grep -q '^listening on ' "$TMP/server.out" || { echo "the server did not start" >&2; exit 1; }
TOKEN=$(BACKPROOF_AUTH_SECRET="$SECRET" "$BACKPROOF" serve token --user schemathesis)

set +e
ROOT=$(pwd)
# From the temp dir: schemathesis keeps a cache (.schemathesis/) in its working directory.
cd "$TMP"
"$ST" --config-file "$ROOT/ci/schemathesis.toml" run "$ROOT/docs/openapi.yaml" \
  --url "http://127.0.0.1:$PORT" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "$MAX_EXAMPLES" \
  --generation-deterministic \
  --request-timeout 30 \
  --workers 1 \
  --warnings off \
  "$@"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  echo "--- server log (last 40 lines)" >&2
  tail -n 40 "$TMP/server.log" >&2
fi
exit "$rc"
