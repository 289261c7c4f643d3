#!/usr/bin/env python3
"""Deliberately broken ports of the noah-v0 codec for the profile's self-test: wrap a real
adapter and change each `"profile": "noah-v0"` request on its way in, the way a port that
"helps" the user would.

  --normalize       NFC-normalize and trim the seedphrase (docs/profiles/noah-v0.md §2 says
                    it is used exactly as given)
  --lenient-base64  read the body as Android's decoder does: drop characters outside the
                    alphabet, take the URL-safe one, add missing padding, ignore stray bits
                    (§3 step 3 refuses all of that)

usage: noah_port_adapter.py --normalize|--lenient-base64 INNER_CMD...
"""
import base64
import binascii
import json
import subprocess
import sys
import unicodedata


def normalize(req):
    for holder in (req, req.get("secret")):
        if isinstance(holder, dict) and isinstance(holder.get("passphrase"), str):
            holder["passphrase"] = unicodedata.normalize("NFC", holder["passphrase"]).strip()
    return req


def lenient_base64(req):
    if req.get("op") != "open" or not isinstance(req.get("blob"), str):
        return req
    body = bytes.fromhex(req["blob"]).replace(b"-", b"+").replace(b"_", b"/")
    kept = bytes(c for c in body if chr(c).isascii() and (chr(c).isalnum() or c in b"+/"))
    try:
        raw = base64.b64decode(kept + b"=" * (-len(kept) % 4))
    except (binascii.Error, ValueError):
        return req  # a length no decoder takes: pass it on unchanged
    req["blob"] = base64.b64encode(raw).hex()
    return req


def main():
    mode, inner_cmd = sys.argv[1], sys.argv[2:]
    edit = {"--normalize": normalize, "--lenient-base64": lenient_base64}[mode]
    inner = subprocess.Popen(inner_cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("profile") == "noah-v0":
            req = edit(req)
        inner.stdin.write(json.dumps(req) + "\n")
        inner.stdin.flush()
        answer = inner.stdout.readline()
        if not answer:
            sys.exit(1)
        sys.stdout.write(answer)
        sys.stdout.flush()
    inner.stdin.close()
    inner.wait()


if __name__ == "__main__":
    main()
