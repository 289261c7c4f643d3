"""Independent implementation of profile byok-json-v1, for crosscheck.py.

Written from docs/profiles/byok-json-v1.md alone, on Python's json, hashlib (PBKDF2-HMAC-
SHA512), argon2-cffi (Argon2id) and cryptography (AES-GCM); it imports nothing of
backproof's Rust code, nor crosscheck.py's blob-v1 code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_LEN, TAG_LEN = 12, 16
MIN_SALT, MAX_SALT = 16, 64
PBKDF2_MIN, PBKDF2_MAX = 100_000, 10_000_000
INT_MIN, INT_MAX = -(2**63), 2**64 - 1


class ByokError(Exception):
    def __init__(self, cls: str, message: str) -> None:
        super().__init__(f"{cls}: {message}")
        self.cls = cls


def _malformed(msg: str) -> ByokError:
    return ByokError("malformed", msg)


class _NotAnInteger:
    """An integer literal too long for Python's int parser limit: still valid JSON (a
    number), but no 64-bit integer, so a typed member holding it is mistyped."""


def _parse_int(s: str) -> Any:
    return int(s) if len(s) < 64 else _NotAnInteger()


def _parse_float(s: str) -> float:
    f = float(s)
    if not math.isfinite(f):
        raise ValueError(f"number {s} is out of range")
    return f


def _reject_constant(s: str) -> Any:
    raise ValueError(f"{s} is not JSON")


def _valid_unicode(v: Any) -> None:
    """JSON strings must be Unicode text: a lone surrogate escape is refused."""
    if isinstance(v, str):
        v.encode("utf-8")
    elif isinstance(v, list):
        for x in v:
            _valid_unicode(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            _valid_unicode(k)
            _valid_unicode(x)


def parse_json(blob: bytes) -> Any:
    try:
        text = blob.decode("utf-8")  # strict; a BOM stays U+FEFF and json refuses it
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant
        )
        _valid_unicode(value)
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise _malformed(f"not UTF-8 JSON: {exc}") from None
    return value


def _integer(obj: dict, name: str) -> int:
    if name not in obj:
        raise _malformed(f"{name} missing")
    v = obj[name]
    if type(v) is not int or not INT_MIN <= v <= INT_MAX:
        raise _malformed(f"{name} is not an integer")
    return v


def _string(obj: dict, name: str) -> str:
    if name not in obj:
        raise _malformed(f"{name} missing")
    if not isinstance(obj[name], str):
        raise _malformed(f"{name} is not a string")
    return obj[name]


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-]([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)


def is_rfc3339(s: str) -> bool:
    m = _RFC3339.fullmatch(s)
    if not m:
        return False
    y, mo, d, hh, mi, ss = (int(m.group(i)) for i in range(1, 7))
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12:
        return False
    days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]
    if not (1 <= d <= days and hh <= 23 and mi <= 59 and ss <= 60):
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def _timestamp(obj: dict, name: str) -> str:
    s = _string(obj, name)
    if not is_rfc3339(s):
        raise _malformed(f"{name} {s!r} is not RFC 3339")
    return s


_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)


def b64decode_canonical(s: str, what: str) -> bytes:
    if not _B64.fullmatch(s):
        raise ByokError("corrupted", f"{what} is not standard base64")
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ByokError("corrupted", f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise ByokError("corrupted", f"{what} is not canonical base64 with padding")
    return raw


def check_kdf(algorithm: str, iterations: int, memory: int = 0, parallelism: int = 0) -> None:
    """The profile's bounds: PBKDF2 100000..=10000000; Argon2id the v1 default policy."""
    if algorithm == "pbkdf2":
        if not PBKDF2_MIN <= iterations <= PBKDF2_MAX:
            raise ByokError("kdf_params_rejected", f"pbkdf2 iterations {iterations}")
        return
    m, t, p = memory, iterations, parallelism
    if not (7168 <= m <= 1048576 and 1 <= t <= 16 and 1 <= p <= 16 and m >= 8 * p and m * t >= 35840):
        raise ByokError("kdf_params_rejected", f"argon2id m={m} t={t} p={p}")


def check_salt(salt: bytes) -> None:
    if not MIN_SALT <= len(salt) <= MAX_SALT:
        raise ByokError("kdf_params_rejected", f"salt of {len(salt)} bytes")


def derive(passphrase: str, kdf: dict, salt: bytes) -> bytes:
    pw = passphrase.encode("utf-8")  # exactly as given: no normalization, no trimming
    if kdf["algorithm"] == "pbkdf2":
        return hashlib.pbkdf2_hmac("sha512", pw, salt, kdf["iterations"], 32)
    return hash_secret_raw(
        pw, salt, kdf["iterations"], kdf["memory"], kdf["parallelism"], 32, Type.ID, 19
    )


def parse(blob: bytes) -> dict:
    """Open steps 1-6."""
    doc = parse_json(blob)
    if not isinstance(doc, dict):
        raise _malformed("not an object")
    version = _integer(doc, "version")
    if "kdf" not in doc:
        raise _malformed("kdf missing")
    kdf = doc["kdf"]
    if not isinstance(kdf, dict):
        raise _malformed("kdf is not an object")
    algorithm = _string(kdf, "algorithm")
    data_b64 = _string(doc, "encrypted_data")
    created = _timestamp(doc, "created_at")
    updated = _timestamp(doc, "updated_at")
    if version != 1:
        raise ByokError("unsupported_version", f"version {version}")
    if algorithm not in ("argon2id", "pbkdf2"):
        raise ByokError("unsupported_kdf", f"algorithm {algorithm!r}")
    salt_b64 = _string(kdf, "salt")
    params = {"algorithm": algorithm, "iterations": _integer(kdf, "iterations")}
    if algorithm == "argon2id":
        params["memory"] = _integer(kdf, "memory")
        params["parallelism"] = _integer(kdf, "parallelism")
    check_kdf(algorithm, params["iterations"], params.get("memory", 0), params.get("parallelism", 0))
    salt = b64decode_canonical(salt_b64, "kdf.salt")
    check_salt(salt)
    data = b64decode_canonical(data_b64, "encrypted_data")
    if len(data) < NONCE_LEN + TAG_LEN:
        raise ByokError("corrupted", f"encrypted_data of {len(data)} bytes")
    return {"kdf": params, "salt": salt, "data": data, "created_at": created, "updated_at": updated}


def open_blob(passphrase: str, blob: bytes) -> bytes:
    """Open steps 1-7; a failed tag is wrong_key (the format has no key check)."""
    env = parse(blob)
    key = derive(passphrase, env["kdf"], env["salt"])
    data = env["data"]
    try:
        return AESGCM(key).decrypt(data[:NONCE_LEN], data[NONCE_LEN:], None)
    except InvalidTag:
        raise ByokError("wrong_key", "GCM tag failure") from None


def seal_value(
    passphrase: str, plaintext: bytes, kdf: dict, salt: bytes, nonce: bytes, created_at: str, updated_at: str
) -> dict:
    """The envelope sealing gives, as a JSON value (its spelling is not significant)."""
    check_kdf(kdf["algorithm"], kdf["iterations"], kdf.get("memory", 0), kdf.get("parallelism", 0))
    check_salt(salt)
    for name, ts in (("created_at", created_at), ("updated_at", updated_at)):
        if not is_rfc3339(ts):
            raise _malformed(f"{name} {ts!r} is not RFC 3339")
    key = derive(passphrase, kdf, salt)
    data = nonce + AESGCM(key).encrypt(nonce, plaintext, None)
    kdf_obj: dict = {"algorithm": kdf["algorithm"], "salt": base64.b64encode(salt).decode("ascii"), "iterations": kdf["iterations"]}
    if kdf["algorithm"] == "argon2id":
        kdf_obj["memory"] = kdf["memory"]
        kdf_obj["parallelism"] = kdf["parallelism"]
    return {
        "version": 1,
        "kdf": kdf_obj,
        "encrypted_data": base64.b64encode(data).decode("ascii"),
        "created_at": created_at,
        "updated_at": updated_at,
    }


def _pinned_seal(t: dict) -> dict:
    return seal_value(
        t["secret"]["passphrase"],
        bytes.fromhex(t["plaintext"]),
        t["kdf"],
        bytes.fromhex(t["salt"]),
        bytes.fromhex(t["nonce"]),
        t["created_at"],
        t["updated_at"],
    )


def _same_value(sealed: dict, blob: bytes) -> str | None:
    try:
        stored = parse_json(blob)
    except ByokError as exc:
        return f"vector blob is not JSON: {exc}"
    if sealed != stored:
        return f"sealing gives {json.dumps(sealed)} but the vector's blob is {json.dumps(stored)}"
    return None


def check_vector(t: dict) -> str | None:
    """One test of vectors/byok-json-v1/byok-json-v1.json; None when it is confirmed."""
    expected = t["result"]
    op = t.get("op", "open")
    if op == "open":
        blob = bytes.fromhex(t["blob"])
        try:
            plain = open_blob(t["secret"]["passphrase"], blob)
        except ByokError as exc:
            return None if exc.cls == expected else f"expected {expected}, got {exc}"
        if expected != "ok":
            return f"expected {expected}, but it opened"
        want = bytes.fromhex(t["plaintext"])
        if plain != want:
            return f"plaintext: expected {want.hex()[:96]}, got {plain.hex()[:96]}"
        if "nonce" in t:
            return _same_value(_pinned_seal(t), blob)
        return None
    if op == "seal":
        try:
            sealed = _pinned_seal(t)
        except ByokError as exc:
            return None if exc.cls == expected else f"expected {expected}, got {exc}"
        if expected != "ok":
            return f"expected {expected}, but it sealed"
        return _same_value(sealed, bytes.fromhex(t["blob"])) if "blob" in t else None
    return f"unknown op {op!r}"
