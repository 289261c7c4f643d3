#!/usr/bin/env python3
"""A deliberately broken client for the metamask-vault self-test: wraps a real adapter and
flips one bit of the first byte of every plaintext that `open` returns, so that every
vector whose vault opens (and every seal or update checked by opening it again) must fail,
while the refusals still pass.

usage: flip_open_adapter.py INNER_CMD...
"""
import json
import subprocess
import sys


def main():
    inner = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    for line in sys.stdin:
        req = json.loads(line)
        inner.stdin.write(line if line.endswith("\n") else line + "\n")
        inner.stdin.flush()
        answer = inner.stdout.readline()
        if not answer:
            sys.exit(1)
        resp = json.loads(answer)
        plaintext = resp.get("result", {}).get("plaintext") if req.get("op") == "open" else None
        if plaintext:
            b = bytearray(bytes.fromhex(plaintext))
            b[0] ^= 0x01
            resp["result"]["plaintext"] = b.hex()
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()
    inner.stdin.close()
    inner.wait()


if __name__ == "__main__":
    main()
