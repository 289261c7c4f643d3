#!/usr/bin/env python3
"""A deliberately broken client for the metamask-vault self-test: wraps a real adapter and
flips one bit of the first byte of every plaintext that `open` returns, so that every
vector whose vault opens (and every seal or update checked by opening it again) must fail,
while the refusals still pass.

usage: flip_open_adapter.py INNER_CMD...
"""
from relay_adapter import relay


def flip(req, resp):
    plaintext = resp.get("result", {}).get("plaintext") if req.get("op") == "open" else None
    if plaintext:
        b = bytearray(bytes.fromhex(plaintext))
        b[0] ^= 0x01
        resp["result"]["plaintext"] = b.hex()
    return resp


if __name__ == "__main__":
    relay(flip)
