#!/usr/bin/env python3
"""A deliberately broken client for the metamask-vault store cases: wraps a real adapter and,
when a `restore` fails, answers with the payload of this process's last successful `backup`
instead (a client that falls back to its local copy and so hides a wrong password, a damaged
vault and a deleted one). Every case whose restore must be refused fails; the others pass.

usage: cached_restore_adapter.py INNER_CMD...
"""
import json
import subprocess
import sys


def main():
    inner = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    cached = None
    for line in sys.stdin:
        req = json.loads(line)
        inner.stdin.write(line if line.endswith("\n") else line + "\n")
        inner.stdin.flush()
        answer = inner.stdout.readline()
        if not answer:
            sys.exit(1)
        resp = json.loads(answer)
        if req.get("op") == "backup" and "result" in resp:
            cached = req.get("payload")
        elif req.get("op") == "restore" and "error" in resp and cached is not None:
            resp = {"id": resp.get("id"), "result": {"payload": cached}}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()
    inner.stdin.close()
    inner.wait()


if __name__ == "__main__":
    main()
