#!/usr/bin/env python3
"""Every metamask-vault vector, confirmed by the real @metamask/browser-passworder.

Drives examples/adapters/metamask/adapter.mjs (the unmodified library behind backproof's line
protocol, docs/ADAPTER.md) over vectors/metamask-vault/metamask-vault.json and checks each
answer:

- where the vector has no `library` member, the library's class must be `result` or one of
  `accept`, and an opened plaintext must equal `plaintext`;
- where it has one, the library must do exactly what it records (the disagreements of
  docs/profiles/metamask-vault.md), so a library release that changes behaviour is noticed;
- `library.result == "unbounded"`: the library must still be deriving after WAIT seconds (the
  vault declares a count that takes minutes to hours); the adapter is then restarted.
- the library draws its own IV, so pinned round trips are checked by opening, and `seal`
  and `rotate` answers are opened again by the library to check their content.

Run from the repository root after `npm ci` in examples/adapters/metamask; an optional
argument names another vector file (ci/crosscheck/test_crosscheck.py feeds it broken ones).
Exit status 0 only when every vector checks.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = ROOT / "examples" / "adapters" / "metamask" / "adapter.mjs"
VECTORS = ROOT / "vectors" / "metamask-vault" / "metamask-vault.json"
PROFILE = "metamask-vault"
# Long enough for any answer the library gives at 2 iterations on a loaded machine; far
# shorter than the 100000000 iterations of the smallest "unbounded" vector take anywhere.
WAIT = 3.0
# Generous: the slowest honest answer is a seal plus an open at 900000 iterations.
ANSWER_TIMEOUT = 120.0


class Adapter:
    def __init__(self) -> None:
        self.next_id = 0
        self.proc = subprocess.Popen(
            ["node", str(ADAPTER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
            bufsize=1,
        )

    def send(self, op: str, **fields: object) -> int:
        self.next_id += 1
        req = {"id": self.next_id, "op": op, **fields}
        if op != "hello":
            req["profile"] = PROFILE
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self.next_id

    def read(self, timeout: float) -> dict | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the adapter exited")
        return json.loads(line)

    def call(self, op: str, **fields: object) -> dict:
        rid = self.send(op, **fields)
        answer = self.read(ANSWER_TIMEOUT)
        if answer is None:
            raise RuntimeError(f"no answer to {op} within {ANSWER_TIMEOUT} s")
        if answer.get("id") != rid or ("result" in answer) == ("error" in answer):
            raise RuntimeError(f"broken answer {answer}")
        return answer

    def stop(self) -> None:
        # Our own child, by its handle: closing stdin ends it; kill only if it is busy.
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def outcome(answer: dict) -> str:
    return "ok" if "result" in answer else answer["error"]["class"]


def request(t: dict) -> tuple[str, dict]:
    op = t.get("op", "open")
    if op == "derive":
        return op, {"passphrase": t["passphrase"], "salt": t["salt"], "kdf": t["kdf"]}
    fields: dict = {"secret": t["secret"]}
    if op == "open":
        fields["blob"] = t["blob"]
    elif op == "rotate":
        fields["blob"] = t["blob"]
        if "kdf" in t:
            fields["kdf"] = t["kdf"]
    elif op == "seal":
        fields.update(plaintext=t["plaintext"], kdf=t["kdf"], salt=t["salt"])
    return op, fields


def check(adapter: Adapter, t: dict) -> str | None:
    """None when the library does what the vector says, else the reason."""
    op, fields = request(t)
    library = t.get("library")
    if library and library["result"] == "not-run":
        return None
    if library and library["result"] == "unbounded":
        adapter.send(op, **fields)
        answer = adapter.read(WAIT)
        return None if answer is None else f"expected no answer within {WAIT} s, got {answer}"
    answer = adapter.call(op, **fields)
    got = outcome(answer)
    if library:
        allowed, plaintext = {library["result"]}, library.get("plaintext", t.get("plaintext"))
    else:
        allowed, plaintext = {t["result"], *t.get("accept", [])}, t.get("plaintext")
    if got not in allowed:
        detail = answer.get("error", {}).get("message", "")
        return f"expected {sorted(allowed)}, got {got} {detail}".strip()
    if got != "ok":
        return None
    result = answer["result"]
    if op == "open" and plaintext is not None and result["plaintext"] != plaintext:
        return f"opened to {bytes.fromhex(result['plaintext'])!r}, expected {bytes.fromhex(plaintext)!r}"
    if op == "derive" and result["ikm"] != t["ikm"]:
        return f"derived {result['ikm']}, expected {t['ikm']}"
    if op in ("seal", "rotate"):
        vault = json.loads(bytes.fromhex(result["blob"]))
        if op == "rotate":
            if result["changed"] != t["changed"]:
                return f"changed = {result['changed']}, expected {t['changed']}"
            if not t["changed"] and result["blob"] != t["blob"]:
                return "an unchanged vault came back different"
            target = t.get("kdf", {"iterations": 900000})["iterations"]
            if vault.get("keyMetadata") != {"algorithm": "PBKDF2", "params": {"iterations": target}}:
                return f"updated vault declares {vault.get('keyMetadata')}"
        elif t["kdf"].get("legacy"):
            if "keyMetadata" in vault:
                return "a legacy seal wrote keyMetadata"
        elif vault["keyMetadata"]["params"]["iterations"] != t["kdf"]["iterations"]:
            return f"sealed with {vault['keyMetadata']}"
        if op == "seal" and bytes.fromhex(t["salt"]) != __import__("base64").b64decode(vault["salt"]):
            return "the given salt was not used"
        # Content: the library opens what it wrote (the right password for a changed vault).
        password = t["secret"]["passphrase"] if (op == "seal" or t["changed"]) else "correct horse battery staple"
        again = adapter.call("open", secret={"passphrase": password}, blob=result["blob"])
        want = plaintext if plaintext is not None else t["plaintext"]
        if outcome(again) != "ok" or again["result"]["plaintext"] != want:
            return f"the library cannot open what it wrote: {again}"
    return None


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else VECTORS
    doc = json.loads(path.read_text(encoding="utf-8"))
    adapter = Adapter()
    hello = adapter.call("hello")["result"]
    if PROFILE not in hello["profiles"] or not doc["library"].startswith("@metamask/browser-passworder "):
        print(f"unexpected hello {hello}")
        return 1
    want_version = doc["library"].split(" ")[1]
    if f"browser-passworder {want_version} " not in hello["implementation"] + " ":
        print(f"the vectors record {doc['library']}, the adapter runs {hello['implementation']}")
        return 1
    started = time.monotonic()
    failures, counts = [], {"agree": 0, "disagreement (as recorded)": 0, "unbounded": 0, "not run": 0}
    for group in doc["testGroups"]:
        for t in group["tests"]:
            why = check(adapter, t)
            lib = t.get("library", {}).get("result")
            if lib == "unbounded":
                adapter.stop()
                adapter = Adapter()
                adapter.call("hello")
            if why is not None:
                failures.append(f"tcId {t['tcId']} ({group['type']}: {t['comment']}): {why}")
            elif lib == "unbounded":
                counts["unbounded"] += 1
            elif lib == "not-run":
                counts["not run"] += 1
            elif lib:
                counts["disagreement (as recorded)"] += 1
            else:
                counts["agree"] += 1
    adapter.stop()
    total = sum(len(g["tests"]) for g in doc["testGroups"])
    print(
        f"metamask-vault vectors against {hello['implementation']}: {total} vectors, "
        + ", ".join(f"{v} {k}" for k, v in counts.items())
        + f", {len(failures)} failed ({time.monotonic() - started:.1f} s)"
    )
    for f in failures:
        print("  FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
