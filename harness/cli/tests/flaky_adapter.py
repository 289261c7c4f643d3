#!/usr/bin/env python3
"""A client that fails once, for the --repeat self-test: wraps a real adapter and reports
the first wrong_key it ever sees as wrong_key_or_corrupted (so that case fails), then
creates FLAG and behaves from then on, in this process and every later one.

usage: flaky_adapter.py FLAG INNER_CMD... [--state-dir DIR]
"""
import json
import os
import subprocess
import sys


def main():
    flag = sys.argv[1]
    inner = subprocess.Popen(sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    for line in sys.stdin:
        if not line.strip():
            continue
        inner.stdin.write(line if line.endswith("\n") else line + "\n")
        inner.stdin.flush()
        answer = inner.stdout.readline()
        if not answer:
            sys.exit(1)
        ans = json.loads(answer)
        err = ans.get("error")
        if err and err.get("class") == "wrong_key" and not os.path.exists(flag):
            open(flag, "w").close()
            err["class"] = "wrong_key_or_corrupted"
        sys.stdout.write(json.dumps(ans) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
