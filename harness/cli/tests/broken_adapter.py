#!/usr/bin/env python3
"""A deliberately broken client for the suite's self-test: wraps a real adapter and
misbehaves in one way, so that the scenarios of one family must fail.

usage: broken_adapter.py MODE INNER_CMD... [--state-dir DIR]

MODE:
  blind-overwrite   backup deletes the stored backup first (never merges): lost updates
  vague-wrong-key   reports wrong_key as wrong_key_or_corrupted (what designs without a key check report)
  garbage-on-corrupt  answers a damaged blob with an empty payload instead of an error
  first-candidate   recover names the first candidate whatever matched
"""
import json
import subprocess
import sys


def main():
    mode = sys.argv[1]
    inner = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(req):
        inner.stdin.write(json.dumps(req) + "\n")
        inner.stdin.flush()
        line = inner.stdout.readline()
        if not line:
            sys.exit(1)
        return json.loads(line)

    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if mode == "blind-overwrite" and req.get("op") == "backup":
            ask({"id": 999999999, "op": "delete", "profile": req.get("profile", "v1"), "server": req["server"]})
        ans = ask(req)
        err = ans.get("error")
        if mode == "vague-wrong-key" and err and err.get("class") == "wrong_key":
            err["class"] = "wrong_key_or_corrupted"
        if mode == "garbage-on-corrupt" and err and err.get("class") in ("corrupted", "malformed") and req.get("op") == "restore":
            ans = {"id": ans["id"], "result": {"payload": "", "version": 1}}
        if mode == "first-candidate" and req.get("op") == "recover" and "result" in ans:
            ans["result"]["matched"] = req["candidates"][0]["id"]
        sys.stdout.write(json.dumps(ans) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
