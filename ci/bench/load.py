#!/usr/bin/env python3
"""Load bench of the reference server (docs/PERFORMANCE.md, "Load: 64 clients, mixed requests").

64 concurrent clients (8 users x 8 devices, so every backup has 8 competing writers), each
sending REQUESTS mixed requests one after another on its own keep-alive connection:
60 % GET /v1/backup, 10 % HEAD, 25 % POST with If-Match of the version the client last
saw (a 409 makes it read again), 5 % GET /healthz. Bodies are 1-4 KiB and unique.
Loopback only: `backproof stack up --stack local` (throwaway Postgres + embedded S3) and
`backproof-test-server` as its own process, so the RSS measured is the server's alone.

Checks (the bench exits 1 when one fails):
  - no answer is 5xx, every request gets an answer, statuses are the documented ones;
  - every acknowledged write's sha256 is the hash of the body sent;
  - per user, acknowledged versions are unique (two acks of one version = a lost update),
    a write with If-Match: v is acknowledged as v + 1;
  - every body read hashes to the body acknowledged for its version (or to a write in
    flight: a read can see a write before its acknowledgement arrives);
  - a read that started after version v was acknowledged returns at least v;
  - at the end each user's backup is the last acknowledged version, byte for byte.
These are the raw-request rules of the suite's history checker (harness/suite/src/history.rs,
docs/SCENARIOS.md "stress"), restated here because that checker is internal to the suite.

Reported: requests, wall time, throughput, p50/p90/p99/max latency per kind and overall,
409 count, the server's VmRSS at start and after warm-up and its peak VmHWM.

Env: CLIENTS (64), USERS (8), REQUESTS per client (1000), BACKPROOF_BIN_DIR (target/debug).
"""

import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLIENTS = int(os.environ.get("CLIENTS", "64"))
USERS = int(os.environ.get("USERS", "8"))
REQUESTS = int(os.environ.get("REQUESTS", "1000"))
BIN = os.environ.get("BACKPROOF_BIN_DIR") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", "target"), "debug"
)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid, field):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


class Client(threading.Thread):
    def __init__(self, idx, port, user, token, log, failures):
        super().__init__(daemon=True)
        self.idx, self.port, self.user, self.token = idx, port, user, token
        self.log, self.failures = log, failures
        self.rng = random.Random(idx)
        self.seen = 0  # the version this client last saw
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {self.token}"}
        h.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
            except (http.client.HTTPException, OSError) as e:
                # A keep-alive connection the server closed between requests: reconnect
                # once; a second failure is a request without an answer.
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    return None, {}, str(e).encode()
        return None, {}, b""

    def run(self):
        for n in range(REQUESTS):
            roll = self.rng.random()
            t0 = time.monotonic_ns()
            if roll < 0.60:
                kind = "GET"
                status, hdrs, data = self.request("GET", "/v1/backup")
            elif roll < 0.70:
                kind = "HEAD"
                status, hdrs, data = self.request("HEAD", "/v1/backup")
            elif roll < 0.95:
                kind = "POST"
                body = f"{self.user}/{self.idx}/{n}/".encode() + os.urandom(self.rng.randint(1024, 4096))
                headers = {"If-Match": f'"{self.seen}"'} if self.seen else {}
                status, hdrs, data = self.request("POST", "/v1/backup", body=body, headers=headers)
            else:
                kind = "healthz"
                status, hdrs, data = self.request("GET", "/healthz")
            t1 = time.monotonic_ns()
            entry = {"client": self.idx, "user": self.user, "kind": kind, "invoke": t0,
                     "complete": t1, "status": status}
            if status is None:
                self.failures.append(f"client {self.idx}: {kind} without an answer: {data[:200]!r}")
            elif status >= 500:
                self.failures.append(f"client {self.idx}: {kind} answered {status}: {data[:300]!r}")
            elif kind in ("GET", "HEAD"):
                if status == 200:
                    v = int(hdrs["etag"].strip('"'))
                    entry["version"] = v
                    if kind == "GET":
                        entry["sha256"] = hashlib.sha256(data).hexdigest()
                    self.seen = max(self.seen, v)
                elif status != 404:
                    self.failures.append(f"client {self.idx}: {kind} answered {status}")
            elif kind == "POST":
                entry["sent"] = hashlib.sha256(body).hexdigest()
                entry["if_match"] = self.seen
                if status in (200, 201):
                    j = json.loads(data)
                    entry["version"] = j["version"]
                    entry["acked_sha"] = j["sha256"]
                    self.seen = j["version"]
                elif status == 409:
                    # Read again before the next write, as a merging client does.
                    s2, h2, _ = self.request("HEAD", "/v1/backup")
                    if s2 == 200:
                        self.seen = int(h2["etag"].strip('"'))
                else:
                    self.failures.append(f"client {self.idx}: POST answered {status}: {data[:300]!r}")
            self.log.append(entry)
        if self.conn:
            self.conn.close()


def check(log, finals):
    """The raw-request rules of the history checker; returns a list of violations."""
    bad = []
    by_user = {}
    for e in log:
        by_user.setdefault(e["user"], []).append(e)
    for user, ops in by_user.items():
        acks = {}
        for e in ops:
            if e["kind"] == "POST" and "version" in e:
                v = e["version"]
                if v in acks:
                    bad.append(f"{user}: version {v} acknowledged twice (a lost update)")
                acks[v] = e
                if e["acked_sha"] != e["sent"]:
                    bad.append(f"{user}: version {v} acknowledged with another body's sha256")
                if e["if_match"] and v != e["if_match"] + 1:
                    bad.append(f"{user}: If-Match {e['if_match']} acknowledged as {v}")
        for e in ops:
            if e["kind"] != "GET" or "version" not in e:
                continue
            v, sha = e["version"], e["sha256"]
            ack = acks.get(v)
            # Every write got its answer, so the write a read saw is among the acks.
            if ack is None or ack["sent"] != sha:
                bad.append(f"{user}: read of version {v} returned a body no write of it sent")
            newer = [a for a in acks.values() if a["complete"] < e["invoke"] and a["version"] > v]
            if newer:
                bad.append(f"{user}: stale read of {v} after {max(a['version'] for a in newer)} was acknowledged")
        if acks:
            last = acks[max(acks)]
            got = finals.get(user)
            if got != (max(acks), last["sent"]):
                bad.append(f"{user}: final backup {got} is not the last acknowledged version {max(acks)}")
    return bad


def main():
    os.chdir(ROOT)
    tmp = tempfile.mkdtemp(prefix="bp-load-")
    procs = []

    def stop_all():
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()

    try:
        stack = subprocess.Popen([os.path.join(BIN, "backproof"), "stack", "up", "--stack", "local"],
                                 stdout=subprocess.PIPE, text=True)
        procs.append(stack)
        env = dict(os.environ)
        for line in stack.stdout:
            line = line.strip()
            if line == "# ready":
                break
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                env[k] = v.strip("'")
        port = free_port()
        secret = os.urandom(16).hex()
        env.update(BACKPROOF_LISTEN=f"127.0.0.1:{port}", BACKPROOF_AUTH_SECRET=secret, RUST_LOG="warn")
        server = subprocess.Popen([os.path.join(BIN, "backproof-test-server")], env=env,
                                  stderr=open(os.path.join(tmp, "server.log"), "w"))
        procs.append(server)
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit("the server did not start: " + open(os.path.join(tmp, "server.log")).read())
                time.sleep(0.2)
        rss_start = rss_kib(server.pid, "VmRSS")
        users = [f"load{u}" for u in range(USERS)]
        tokens = {}
        for u in users:
            tokens[u] = subprocess.run([os.path.join(BIN, "backproof"), "serve", "token", "--user", u],
                                       env=env, capture_output=True, text=True, check=True).stdout.strip()
        # Warm-up: every user has version 1, every pool is open. These writes are part of
        # the history the checks see (reads of version 1 return their bodies).
        warm = []
        for u in users:
            body = f"{u}/warm-up/".encode() + os.urandom(2048)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            t0 = time.monotonic_ns()
            c.request("POST", "/v1/backup", body=body, headers={"Authorization": f"Bearer {tokens[u]}"})
            r = c.getresponse()
            j = json.loads(r.read())
            assert r.status == 201, r.status
            warm.append({"client": -1, "user": u, "kind": "POST", "invoke": t0,
                         "complete": time.monotonic_ns(), "status": 201, "version": j["version"],
                         "sent": hashlib.sha256(body).hexdigest(), "acked_sha": j["sha256"],
                         "if_match": 0})
            c.close()
        rss_warm = rss_kib(server.pid, "VmRSS")
        try:  # reset the high-water mark so that VmHWM is the peak under load
            with open(f"/proc/{server.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        log, failures = [], []
        clients = [Client(i, port, users[i % USERS], tokens[users[i % USERS]], log, failures)
                   for i in range(CLIENTS)]
        peak = [0]
        done = threading.Event()

        def sampler():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(server.pid, "VmRSS") or 0)
                done.wait(0.05)

        st = threading.Thread(target=sampler, daemon=True)
        st.start()
        t0 = time.monotonic()
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        wall = time.monotonic() - t0
        done.set()
        hwm = rss_kib(server.pid, "VmHWM")
        finals = {}
        for u in users:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/v1/backup", headers={"Authorization": f"Bearer {tokens[u]}"})
            r = c.getresponse()
            data = r.read()
            finals[u] = (int(r.getheader("etag").strip('"')), hashlib.sha256(data).hexdigest())
            c.close()
        failures += check(warm + log, finals)
        lat = {}
        for e in log:
            lat.setdefault(e["kind"], []).append((e["complete"] - e["invoke"]) / 1e6)
        alls = [x for v in lat.values() for x in v]
        conflicts = sum(1 for e in log if e["kind"] == "POST" and e["status"] == 409)
        acked = sum(1 for e in log if e["kind"] == "POST" and e["status"] in (200, 201))
        print(f"load: {CLIENTS} clients ({USERS} users x {CLIENTS // USERS} devices) x {REQUESTS} requests "
              f"= {len(log)} requests in {wall:.1f} s ({len(log) / wall:.0f} req/s); "
              f"load average before/after: {os.getloadavg()[0]:.1f}")
        print(f"{'kind':8} {'n':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        for k in sorted(lat) + ["all"]:
            v = alls if k == "all" else lat[k]
            print(f"{k:8} {len(v):>6} {pct(v, 50):>8.1f} {pct(v, 90):>8.1f} {pct(v, 99):>8.1f} {max(v):>8.1f}")
        print(f"writes: {acked} acknowledged, {conflicts} conflicts (409)")
        print(f"server RSS: start {rss_start} KiB, after warm-up {rss_warm} KiB, "
              f"peak under load {hwm} KiB (VmHWM; sampler {peak[0]} KiB)")
        print(f"5xx / unanswered / violations: {len(failures)}")
        for f in failures[:20]:
            print("  " + f)
        return 1 if failures else 0
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
