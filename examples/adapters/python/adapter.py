#!/usr/bin/env python3
"""A complete minimal backproof client adapter in Python.

Speaks the adapter protocol (docs/ADAPTER.md): one JSON request per line on stdin, one JSON
answer per line on stdout, in order; logs go to stderr. It implements blob format v1
(docs/FORMAT.md) and the reference client semantics against a server speaking API v1
(docs/API.md) with nothing but `cryptography`, `argon2-cffi` and the standard library (http.client).

    python3 adapter.py [--state-dir DIR] [--kdf m=65536,t=3,p=4] [--http-timeout SECONDS]

--kdf sets the Argon2id parameters this writer uses for its own seals (seal without kdf,
backup, rotate); they are never taken from a downloaded blob. --state-dir keeps the last
version this adapter wrote per server and token, so that the next backup sends If-Match and
a restarted process carries on where the killed one stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import secrets
import sys
import tempfile
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass
from typing import Any

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

IMPLEMENTATION = "backproof-example-python 0.1.0"
OPS = ["hello", "derive", "seal", "open", "backup", "restore", "rotate", "recover", "delete"]
MAX_WRITE_TRIES = 8
# Retries of network errors and 5xx (the reference client's defaults).
RETRY_ATTEMPTS = 5
RETRY_BASE_DELAY = 0.1
RETRY_MAX_DELAY = 2.0
RETRY_MAX_TOTAL = 15.0
CONNECT_TIMEOUT = 5.0


class AdapterError(Exception):
    """An answer with an error class from the closed list (docs/FORMAT.md)."""

    def __init__(self, cls: str, message: str, tried: list[str] | None = None) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message
        self.tried = tried  # recover's wrong_key: the candidate ids, in the order tried

    def answer(self) -> dict:
        err: dict = {"class": self.cls, "message": self.message}
        if self.tried is not None:
            err["tried"] = self.tried
        return err


# --- blob format v1 ------------------------------------------------------------------------

MAGIC = b"BKPF"
FIXED_HEADER_LEN = 68  # every fixed-size header field; the salt comes on top
INFO_ENC = b"backproof v1 aes-256-gcm key"
INFO_CHECK = b"backproof v1 key check"


@dataclass(frozen=True)
class Kdf:
    m_cost: int
    t_cost: int
    p_cost: int

    def check_policy(self) -> None:
        """Default opening policy; checked before any derivation so a hostile blob cannot
        make us burn memory or time."""
        m, t, p = self.m_cost, self.t_cost, self.p_cost
        if not (7168 <= m <= 1048576 and 1 <= t <= 16 and 1 <= p <= 16 and m >= 8 * p and m * t >= 35840):
            raise AdapterError(
                "kdf_params_rejected",
                f"Argon2id m={m} t={t} p={p} is outside the policy "
                "(7168<=m<=1048576 KiB, 1<=t<=16, 1<=p<=16, m>=8p, m*t>=35840)",
            )


@dataclass(frozen=True)
class Secret:
    passphrase: str | None = None
    key: bytes | None = None


def hkdf(ikm: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(ikm)


def derive(passphrase: str, salt: bytes, kdf: Kdf) -> bytes:
    pw = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    try:
        return hash_secret_raw(pw, salt, kdf.t_cost, kdf.m_cost, kdf.p_cost, 32, Type.ID, 19)
    except HashingError as exc:
        raise AdapterError("kdf_params_rejected", f"Argon2id refused the parameters: {exc}") from None


def seal(secret: Secret, plaintext: bytes, kdf: Kdf, salt: bytes | None = None, nonce: bytes | None = None) -> bytes:
    nonce = secrets.token_bytes(12) if nonce is None else nonce
    if len(nonce) != 12:
        raise AdapterError("malformed", f"nonce must be 12 bytes, got {len(nonce)}")
    if secret.passphrase is not None:
        n = len(unicodedata.normalize("NFC", secret.passphrase))
        if n < 13:
            raise AdapterError("passphrase_too_short", f"passphrase has {n} characters after NFC; at least 13 are required")
        kdf.check_policy()
        salt = secrets.token_bytes(16) if salt is None else salt
        if not 16 <= len(salt) <= 32:
            raise AdapterError("malformed", f"salt must be 16..32 bytes, got {len(salt)}")
        ikm = derive(secret.passphrase, salt, kdf)
        params = bytes([1, 1]) + kdf.m_cost.to_bytes(4, "big") + kdf.t_cost.to_bytes(4, "big")
        params += bytes([kdf.p_cost, len(salt)]) + salt
    else:
        assert secret.key is not None
        ikm = secret.key
        params = bytes([1, 0]) + bytes(10)
    header = MAGIC + params + nonce + hkdf(ikm, INFO_CHECK)
    header += hashlib.sha256(header).digest()[:8]
    return header + AESGCM(hkdf(ikm, INFO_ENC)).encrypt(nonce, plaintext, header)


@dataclass(frozen=True)
class Header:
    kdf: Kdf | None  # None: raw-key blob
    salt: bytes
    nonce: bytes
    key_check: bytes
    raw: bytes


def parse_header(blob: bytes) -> Header:
    if len(blob) < FIXED_HEADER_LEN or blob[:4] != MAGIC:
        raise AdapterError("malformed", "not a backproof blob (too short or bad magic)")
    if blob[4] != 1:
        raise AdapterError("unsupported_version", f"blob version {blob[4]} is not supported (only 1)")
    kdf_id, salt_len, p = blob[5], blob[15], blob[14]
    m, t = int.from_bytes(blob[6:10], "big"), int.from_bytes(blob[10:14], "big")
    if kdf_id == 0:
        if salt_len or m or t or p:
            raise AdapterError("malformed", "raw-key blob with non-zero KDF fields")
        kdf = None
    elif kdf_id == 1:
        if not 16 <= salt_len <= 32:
            raise AdapterError("malformed", f"salt_len {salt_len} outside 16..32")
        kdf = Kdf(m, t, p)
    else:
        raise AdapterError("unsupported_kdf", f"kdf_id {kdf_id} is not supported")
    end = FIXED_HEADER_LEN + salt_len
    if len(blob) < end + 16:
        raise AdapterError("malformed", "blob truncated: fewer than 16 bytes after the header")
    salt = blob[16 : 16 + salt_len]
    nonce = blob[16 + salt_len : 28 + salt_len]
    key_check = blob[28 + salt_len : 60 + salt_len]
    if hashlib.sha256(blob[: end - 8]).digest()[:8] != blob[end - 8 : end]:
        raise AdapterError("corrupted", "header digest mismatch: the blob header is damaged")
    return Header(kdf, salt, nonce, key_check, blob[:end])


def check_key(header: Header, secret: Secret) -> bytes:
    """Policy, then key_check; returns the AES key. Cheap for raw keys, one Argon2id run
    for passphrases: this is what makes smart recovery O(candidates)."""
    if header.kdf is not None:
        header.kdf.check_policy()
        if secret.passphrase is None:
            raise AdapterError("wrong_key", "this blob is sealed with a passphrase, not a raw key")
        ikm = derive(secret.passphrase, header.salt, header.kdf)
    else:
        if secret.key is None:
            raise AdapterError("wrong_key", "this blob is sealed with a raw key, not a passphrase")
        ikm = secret.key
    if not hmac.compare_digest(hkdf(ikm, INFO_CHECK), header.key_check):
        raise AdapterError("wrong_key", "wrong passphrase or key (key check mismatch)")
    return hkdf(ikm, INFO_ENC)


def decrypt(header: Header, key: bytes, blob: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(header.nonce, blob[len(header.raw) :], header.raw)
    except InvalidTag:
        raise AdapterError("corrupted", "authentication failed: the blob is damaged") from None


def open_blob(secret: Secret, blob: bytes) -> bytes:
    header = parse_header(blob)
    return decrypt(header, check_key(header, secret), blob)


# --- BackupPayload (protobuf, package backproof.v1), hand-written wire codec ---------------


class WireError(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(10):
        if pos >= len(buf):
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        if i == 9 and b > 1:
            raise WireError("varint overflow")
        value |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            return value, pos
    raise WireError("varint too long")


def _fields(buf: bytes, spec: dict[int, int], depth: int = 0):
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        tag, wt = key >> 3, key & 7
        if key > 0xFFFFFFFF or tag == 0 or wt > 5:
            raise WireError(f"invalid field key {key}")
        if tag in spec and wt != spec[tag]:
            raise WireError(f"field {tag} has wire type {wt}")
        pos, value = _field_value(buf, pos, tag, wt, depth)
        if tag in spec:
            yield tag, value


def _field_value(buf: bytes, pos: int, tag: int, wt: int, depth: int) -> tuple[int, Any]:
    if wt == 0:
        value, pos = _varint(buf, pos)
        return pos, value
    if wt in (1, 5):
        n = 8 if wt == 1 else 4
        if pos + n > len(buf):
            raise WireError("truncated fixed field")
        return pos + n, None
    if wt == 2:
        n, pos = _varint(buf, pos)
        if n > len(buf) - pos:
            raise WireError("field runs past the end")
        return pos + n, buf[pos : pos + n]
    if wt == 3 and depth < 100:  # an unknown group: skip to its end
        while True:
            key, pos = _varint(buf, pos)
            if key > 0xFFFFFFFF or key >> 3 == 0 or key & 7 > 5:
                raise WireError(f"invalid field key {key}")
            if key & 7 == 4:
                if key >> 3 != tag:
                    raise WireError("mismatched end group")
                return pos, None
            pos, _ = _field_value(buf, pos, key >> 3, key & 7, depth + 1)
    raise WireError("unexpected group")


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("invalid UTF-8 in a string field") from None


def decode_payload(buf: bytes) -> dict:
    try:
        p: dict = {"schema": 0, "identity": None, "contacts": [], "profile": None}
        for tag, v in _fields(buf, {1: 0, 2: 2, 3: 2, 4: 2}):
            if tag == 1:
                p["schema"] = v & 0xFFFFFFFF
            elif tag == 2:
                ident = p["identity"] or {"public_key": b"", "private_key": b""}
                for t, x in _fields(v, {1: 2, 2: 2}, 1):
                    ident["public_key" if t == 1 else "private_key"] = bytes(x)
                p["identity"] = ident
            elif tag == 3:
                c = {"uuid": "", "username": ""}
                for t, x in _fields(v, {1: 2, 2: 2}, 1):
                    c["uuid" if t == 1 else "username"] = _text(x)
                p["contacts"].append(c)
            else:
                prof = p["profile"] or {"attachment_id": "", "decryption_key": b""}
                for t, x in _fields(v, {1: 2, 2: 2}, 1):
                    if t == 1:
                        prof["attachment_id"] = _text(x)
                    else:
                        prof["decryption_key"] = bytes(x)
                p["profile"] = prof
        return p
    except WireError as exc:
        raise AdapterError("payload_invalid", f"the payload is not a BackupPayload: {exc}") from None


def _enc_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _enc_len(tag: int, data: bytes) -> bytes:
    return _enc_varint(tag << 3 | 2) + _enc_varint(len(data)) + data


def _enc_fields(*pairs: tuple[int, bytes]) -> bytes:
    # proto3: empty strings/bytes are the default and are not written
    return b"".join(_enc_len(t, v) for t, v in pairs if v)


def encode_payload(p: dict) -> bytes:
    out = bytearray()
    if p["schema"]:
        out += _enc_varint(1 << 3) + _enc_varint(p["schema"])
    if p["identity"] is not None:
        i = p["identity"]
        out += _enc_len(2, _enc_fields((1, i["public_key"]), (2, i["private_key"])))
    for c in p["contacts"]:
        out += _enc_len(3, _enc_fields((1, c["uuid"].encode()), (2, c["username"].encode())))
    if p["profile"] is not None:
        pr = p["profile"]
        out += _enc_len(4, _enc_fields((1, pr["attachment_id"].encode()), (2, pr["decryption_key"])))
    return bytes(out)


def merge(merging: dict, stored: dict) -> dict:
    """Merge rule of the format: contacts united by uuid (the merging side wins on the same
    uuid), a differing identity is not mergeable, profile: the merging side wins."""
    mi, si = merging["identity"], stored["identity"]
    if mi is not None and si is not None and mi != si:
        raise AdapterError("identity_mismatch", "the stored backup belongs to a different identity; refusing to merge")
    united = {c["uuid"]: c for c in stored["contacts"]}
    united.update((c["uuid"], c) for c in merging["contacts"])
    # Sorted by uuid like the reference client, so both produce the same bytes.
    contacts = [united[u] for u in sorted(united)]
    return {
        "schema": max(merging["schema"], stored["schema"]),
        "identity": mi if mi is not None else si,
        "contacts": contacts,
        "profile": merging["profile"] if merging["profile"] is not None else stored["profile"],
    }


# --- HTTP (server API v1) ------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: Any
    body: bytes


def http_call(method: str, server: dict, body: bytes | None, if_match: int | None, timeout: float) -> Response:
    # http.client rather than urllib: environment proxies must not reroute the harness's
    # loopback traffic, and a server that answers 413 from Content-Length and hangs up
    # before reading the body must still be heard (urllib reports only the broken pipe).
    url = urllib.parse.urlsplit(server["url"])
    if url.scheme not in ("http", "https") or not url.hostname:
        raise AdapterError("network", f"unusable server URL {server['url']!r}")
    conn_cls = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    headers = {"Authorization": f"Bearer {server['token']}"}
    if body is not None:
        headers["Content-Type"] = "application/octet-stream"
    if if_match is not None:
        headers["If-Match"] = f'"{if_match}"'
    conn = conn_cls(url.hostname, url.port, timeout=CONNECT_TIMEOUT)
    where = f"{method} {server['url']}"
    try:
        conn.connect()
        conn.sock.settimeout(timeout)
        try:
            conn.request(method, url.path.rstrip("/") + "/v1/backup", body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError) as exc:
            # The server may have answered before reading the whole body; its answer can
            # still be waiting in our receive buffer.
            try:
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException):
                raise AdapterError("network", f"{where}: {exc}") from None
        else:
            resp = conn.getresponse()
        try:
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            if resp.status < 400:
                raise AdapterError("network", f"{where}: reading the answer: {exc}") from None
            data = b""  # the status is the answer; a problem body cut short adds nothing
        return Response(resp.status, resp.headers, data)
    except (OSError, http.client.HTTPException) as exc:
        raise AdapterError("network", f"{where}: {exc}") from None
    finally:
        conn.close()


def status_error(resp: Response, what: str, sent: int = 0) -> AdapterError:
    detail = ""
    try:
        problem = json.loads(resp.body)
        detail = f": {problem.get('title', '')} {problem.get('detail', '')}".rstrip()
    except (ValueError, AttributeError):
        pass
    s = resp.status
    if s == 400:
        cls = "too_small" if 0 < sent < 32 else "malformed"
    elif s in (401, 403):
        cls = "unauthorized"
    elif s == 404:
        cls = "not_found"
    elif s in (409, 412, 428):
        cls = "conflict"
    elif s == 413:
        cls = "too_large"
    else:
        cls = "server_error"
    return AdapterError(cls, f"{what}: HTTP {s}{detail}")


def etag_version(resp: Response) -> int:
    tag = (resp.headers.get("ETag") or "").strip()
    tag = tag[2:] if tag.startswith("W/") else tag
    try:
        return int(tag.strip('"'))
    except ValueError:
        raise AdapterError("server_error", f"server sent no usable ETag ({tag!r})") from None


def written_version(resp: Response) -> int:
    try:
        return int(json.loads(resp.body)["version"])
    except (ValueError, KeyError, TypeError):
        return etag_version(resp)


# --- the adapter ---------------------------------------------------------------------------


class Adapter:
    def __init__(self, kdf: Kdf, state_dir: str | None, timeout: float) -> None:
        self.kdf = kdf
        self.state_dir = state_dir
        self.timeout = timeout
        self.memory_state: dict[str, int] = {}

    # Known versions: one small JSON file, replaced atomically, so a kill at any moment
    # leaves either the old or the new content.
    def _state_path(self) -> str | None:
        return os.path.join(self.state_dir, "versions.json") if self.state_dir else None

    def _load_state(self) -> dict[str, int]:
        path = self._state_path()
        if path is None:
            return dict(self.memory_state)
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            return {k: int(v) for k, v in data.items()} if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _store_state(self, state: dict[str, int]) -> None:
        path = self._state_path()
        if path is None:
            self.memory_state = dict(state)
            return
        os.makedirs(self.state_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".versions.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @staticmethod
    def _server_key(server: dict) -> str:
        # The token is a credential: only its hash goes to disk.
        return hashlib.sha256(f"{server['url']}\n{server['token']}".encode()).hexdigest()

    def known_version(self, server: dict) -> int | None:
        return self._load_state().get(self._server_key(server))

    def remember(self, server: dict, version: int | None) -> None:
        state = self._load_state()
        if version is None:
            state.pop(self._server_key(server), None)
        else:
            state[self._server_key(server)] = version
        self._store_state(state)

    def call(self, method: str, server: dict, body: bytes | None = None, if_match: int | None = None) -> Response:
        """One HTTP exchange, retrying network errors and 5xx like the reference client:
        exponential backoff with equal jitter, bounded in attempts and in total time. A
        retried write is safe: if the lost answer was a success, the retry meets 409 and
        the merge loop (or rotate's already-rotated check) absorbs it. 4xx never retried."""
        started = time.monotonic()
        for attempt in range(RETRY_ATTEMPTS):
            last = attempt == RETRY_ATTEMPTS - 1
            try:
                resp = http_call(method, server, body, if_match, self.timeout)
                if resp.status < 500 or last:
                    return resp
            except AdapterError as exc:
                if exc.cls != "network" or last:
                    raise
                failure: AdapterError | None = exc
            else:
                failure = None
            elapsed = time.monotonic() - started
            if elapsed >= RETRY_MAX_TOTAL:
                if failure is not None:
                    raise failure
                return resp
            d = min(RETRY_MAX_DELAY, RETRY_BASE_DELAY * 2**attempt)
            time.sleep(min(d / 2 + secrets.randbelow(1001) / 1000 * d / 2, RETRY_MAX_TOTAL - elapsed))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def seal_own(self, secret: Secret, plaintext: bytes) -> bytes:
        return seal(secret, plaintext, self.kdf)

    # --- ops ---

    def op_hello(self, req: dict) -> dict:
        return {"protocol": 1, "implementation": IMPLEMENTATION, "profiles": ["v1"], "ops": OPS}

    def op_derive(self, req: dict) -> dict:
        salt = get_hex(req, "salt")
        return {"ikm": derive(get_str(req, "passphrase"), salt, get_kdf(req["kdf"]) if "kdf" in req else self.kdf).hex()}

    def op_seal(self, req: dict) -> dict:
        kdf = get_kdf(req["kdf"]) if req.get("kdf") is not None else self.kdf
        salt = get_hex(req, "salt") if req.get("salt") is not None else None
        nonce = get_hex(req, "nonce") if req.get("nonce") is not None else None
        return {"blob": seal(get_secret(req.get("secret")), get_hex(req, "plaintext"), kdf, salt, nonce).hex()}

    def op_open(self, req: dict) -> dict:
        return {"plaintext": open_blob(get_secret(req.get("secret")), get_hex(req, "blob")).hex()}

    def op_backup(self, req: dict) -> dict:
        server, secret = get_server(req), get_secret(req.get("secret"))
        payload = get_hex(req, "payload")
        mine = decode_payload(payload)
        body, if_match = payload, self.known_version(server)
        for _ in range(MAX_WRITE_TRIES):
            blob = self.seal_own(secret, body)
            resp = self.call("POST", server, blob, if_match)
            if resp.status in (200, 201):
                version = written_version(resp)
                self.remember(server, version)
                return {"version": version}
            if resp.status not in (409, 412, 428):
                raise status_error(resp, "backup", len(blob))
            # Someone else wrote since our last known version: fetch, merge, retry on top.
            cur = self.call("GET", server)
            if cur.status == 404:
                body, if_match = payload, None
                continue
            if cur.status != 200:
                raise status_error(cur, "backup: fetching the current backup to merge")
            stored = decode_payload(open_blob(secret, cur.body))
            body, if_match = encode_payload(merge(mine, stored)), etag_version(cur)
        raise AdapterError("conflict", f"backup: still conflicting after {MAX_WRITE_TRIES} merge-and-retry rounds")

    def op_restore(self, req: dict) -> dict:
        server, secret = get_server(req), get_secret(req.get("secret"))
        resp = self.call("GET", server)
        if resp.status != 200:
            raise status_error(resp, "restore")
        plaintext = open_blob(secret, resp.body)
        decode_payload(plaintext)
        return {"payload": plaintext.hex(), "version": etag_version(resp)}

    def op_rotate(self, req: dict) -> dict:
        server = get_server(req)
        old, new = get_secret(req.get("old")), get_secret(req.get("new"))
        for _ in range(MAX_WRITE_TRIES):
            cur = self.call("GET", server)
            if cur.status != 200:
                raise status_error(cur, "rotate: fetching the current backup")
            version = etag_version(cur)
            try:
                plaintext = open_blob(old, cur.body)
            except AdapterError as exc:
                if exc.cls != "wrong_key":
                    raise
                # A rotation whose answer was lost: the stored blob already opens with the
                # new secret, so retrying it succeeds without writing anything.
                try:
                    open_blob(new, cur.body)
                except AdapterError:
                    raise exc from None
                self.remember(server, version)
                return {"version": version}
            decode_payload(plaintext)
            blob = self.seal_own(new, plaintext)
            resp = self.call("POST", server, blob, version)
            if resp.status in (200, 201):
                version = written_version(resp)
                self.remember(server, version)
                return {"version": version}
            if resp.status not in (409, 412, 428):
                raise status_error(resp, "rotate", len(blob))
        raise AdapterError("conflict", f"rotate: still conflicting after {MAX_WRITE_TRIES} tries")

    def op_recover(self, req: dict) -> dict:
        server = get_server(req)
        cands = req.get("candidates")
        # An empty list is a recovery with nothing to try: wrong_key with tried [], as the
        # reference answers (smart-recovery.json).
        if not isinstance(cands, list):
            raise AdapterError("malformed", "candidates must be a list")
        parsed = []
        for c in cands:
            if not isinstance(c, dict) or not isinstance(c.get("id"), str):
                raise AdapterError("malformed", "each candidate needs a string id")
            parsed.append((c["id"], get_secret(c)))
        resp = self.call("GET", server)
        if resp.status != 200:
            raise status_error(resp, "recover")
        header = parse_header(resp.body)
        tried = []
        for cid, secret in parsed:
            tried.append(cid)
            try:
                key = check_key(header, secret)
            except AdapterError as exc:
                if exc.cls == "wrong_key":
                    continue
                raise
            plaintext = decrypt(header, key, resp.body)
            decode_payload(plaintext)
            return {"matched": cid, "payload": plaintext.hex(), "version": etag_version(resp)}
        raise AdapterError("wrong_key", "no candidate opens this backup; tried: " + ", ".join(tried), tried)

    def op_delete(self, req: dict) -> dict:
        server = get_server(req)
        resp = self.call("DELETE", server)
        if resp.status not in (200, 204):
            raise status_error(resp, "delete")
        self.remember(server, None)
        return {}

    def handle(self, line: bytes) -> dict:
        try:
            req = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            return {"id": None, "error": {"class": "malformed", "message": f"request is not JSON: {exc}"}}
        if not isinstance(req, dict):
            return {"id": None, "error": {"class": "malformed", "message": "request must be a JSON object"}}
        rid = req.get("id")
        try:
            op = req.get("op")
            if op not in OPS:
                raise AdapterError("malformed", f"unknown op {op!r}; supported: {', '.join(OPS)}")
            profile = req.get("profile", "v1")
            if op != "hello" and profile != "v1":
                raise AdapterError("unsupported_version", f"profile {profile!r} is not supported (only v1)")
            return {"id": rid, "result": getattr(self, f"op_{op}")(req)}
        except AdapterError as exc:
            return {"id": rid, "error": exc.answer()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            # Missing or mistyped fields: an answer, never a crash.
            return {"id": rid, "error": {"class": "malformed", "message": f"bad request: {type(exc).__name__}: {exc}"}}
        except Exception as exc:  # noqa: BLE001 - whatever a request triggers, the process answers and lives on
            return {"id": rid, "error": {"class": "malformed", "message": f"request could not be processed: {type(exc).__name__}: {exc}"}}


def get_hex(req: dict, name: str) -> bytes:
    value = req.get(name)
    # The protocol writes binary as lowercase hex, nothing else (no spaces, no uppercase).
    if not isinstance(value, str) or len(value) % 2 or value.strip("0123456789abcdef"):
        raise AdapterError("malformed", f"field {name!r} must be a lowercase hex string of even length")
    return bytes.fromhex(value)


def get_str(req: dict, name: str) -> str:
    value = req.get(name)
    if not isinstance(value, str):
        raise AdapterError("malformed", f"field {name!r} must be a string")
    return value


def get_kdf(obj: Any) -> Kdf:
    try:
        kdf = Kdf(int(obj["m_cost"]), int(obj["t_cost"]), int(obj["p_cost"]))
    except (KeyError, TypeError, ValueError):
        raise AdapterError("malformed", 'kdf must be {"m_cost": KiB, "t_cost": N, "p_cost": N}') from None
    if min(kdf.m_cost, kdf.t_cost, kdf.p_cost) < 0 or kdf.m_cost > 0xFFFFFFFF or kdf.t_cost > 0xFFFFFFFF or kdf.p_cost > 255:
        raise AdapterError("kdf_params_rejected", "kdf parameters do not fit the blob header")
    return kdf


def get_secret(obj: Any) -> Secret:
    if isinstance(obj, dict) and not ("passphrase" in obj and "key" in obj):
        if isinstance(obj.get("passphrase"), str):
            return Secret(passphrase=obj["passphrase"])
        if isinstance(obj.get("key"), str):
            key = get_hex(obj, "key")
            if len(key) != 32:
                raise AdapterError("malformed", f"a raw key is 32 bytes (64 hex digits), got {len(key)} bytes")
            return Secret(key=key)
    raise AdapterError("malformed", 'a secret is {"passphrase": "..."} or {"key": "<64 hex>"}, exactly one of them')


def get_server(req: dict) -> dict:
    s = req.get("server")
    if not isinstance(s, dict) or not isinstance(s.get("url"), str) or not isinstance(s.get("token"), str):
        raise AdapterError("malformed", 'server must be {"url": "...", "token": "..."}')
    return s


def parse_kdf_flag(text: str) -> Kdf:
    try:
        parts = dict(kv.split("=", 1) for kv in text.split(","))
        kdf = Kdf(int(parts["m"]), int(parts["t"]), int(parts["p"]))
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"--kdf wants m=KiB,t=N,p=N, got {text!r}") from None
    try:
        kdf.check_policy()
    except AdapterError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    return kdf


def main() -> int:
    ap = argparse.ArgumentParser(description="backproof example client adapter (JSON Lines on stdin/stdout)")
    ap.add_argument("--state-dir", help="directory for the last written version per server and token")
    ap.add_argument("--kdf", type=parse_kdf_flag, default=Kdf(65536, 3, 4), help="Argon2id parameters for this writer's seals, m=KiB,t=N,p=N (default m=65536,t=3,p=4)")
    ap.add_argument("--http-timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    args = ap.parse_args()
    adapter = Adapter(args.kdf, args.state_dir, args.http_timeout)
    # Bytes in, ASCII out: a line that is not UTF-8 gets a `malformed` answer instead of a
    # decoding crash, and escaped output survives any locale.
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return 0
        if not line.strip():
            continue
        answer = adapter.handle(line)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
