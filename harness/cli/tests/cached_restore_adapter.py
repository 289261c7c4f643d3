#!/usr/bin/env python3
"""A deliberately broken client for the metamask-vault store cases: wraps a real adapter and,
when a `restore` fails, answers with the payload of this process's last successful `backup`
instead (a client that falls back to its local copy and so hides a wrong password, a damaged
vault and a deleted one). Every case whose restore must be refused fails; the others pass.

usage: cached_restore_adapter.py INNER_CMD...
"""
from relay_adapter import relay

cached = None


def fall_back(req, resp):
    global cached
    if req.get("op") == "backup" and "result" in resp:
        cached = req.get("payload")
    elif req.get("op") == "restore" and "error" in resp and cached is not None:
        return {"id": resp.get("id"), "result": {"payload": cached}}
    return resp


if __name__ == "__main__":
    relay(fall_back)
