"""Independent implementation of profile noah-v0, for crosscheck.py.

Written from docs/profiles/noah-v0.md alone, on Python's hashlib (SHA-256, PBKDF2-HMAC-SHA256),
base64 and the `cryptography` package (AES-256-GCM); it imports nothing of backproof's Rust
code, nor of crosscheck.py or the other profile modules. It checks `result` exactly (the
profile's answer), and for `ok` the plaintext, key, salt or body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ITERATIONS = 10_000
SALT_LEN, KEY_LEN, IV_LEN, TAG_LEN = 16, 32, 12, 16
MAX_BODY_LEN = 64 * 1024 * 1024
# The standard alphabet, whole quanta, padding only at the end.
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


class NoahError(Exception):
    def __init__(self, cls: str, message: str) -> None:
        super().__init__(f"{cls}: {message}")
        self.cls = cls


def _seedphrase(seedphrase: str) -> bytes:
    # UTF-8 exactly as given: no normalization, no trimming.
    if seedphrase == "":
        raise NoahError("malformed", "empty seedphrase")
    return seedphrase.encode("utf-8")


def salt(seedphrase: str) -> bytes:
    return hashlib.sha256(_seedphrase(seedphrase)).digest()[:SALT_LEN]


def derive(seedphrase: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", _seedphrase(seedphrase), salt(seedphrase), ITERATIONS, KEY_LEN)


def seal(seedphrase: str, plaintext: bytes, iv: bytes) -> bytes:
    key = derive(seedphrase)
    assert len(iv) == IV_LEN
    return base64.b64encode(iv + AESGCM(key).encrypt(iv, plaintext, None))


def decode_body(body: bytes) -> bytes:
    """Open steps 2-4: bounded, strict canonical base64, room for IV and tag."""
    if len(body) > MAX_BODY_LEN:
        raise NoahError("too_large", f"{len(body)} bytes")
    if not _BASE64.match(body):
        raise NoahError("malformed", "not standard padded base64")
    try:
        raw = base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise NoahError("malformed", str(exc)) from exc
    # Python accepts stray bits after the last byte; the profile does not.
    if base64.b64encode(raw) != body:
        raise NoahError("malformed", "not canonical")
    if len(raw) < IV_LEN + TAG_LEN:
        raise NoahError("corrupted", f"decodes to {len(raw)} bytes")
    return raw


def open_body(seedphrase: str, body: bytes) -> bytes:
    _seedphrase(seedphrase)
    raw = decode_body(body)
    key = derive(seedphrase)
    try:
        return AESGCM(key).decrypt(raw[:IV_LEN], raw[IV_LEN:], None)
    except InvalidTag as exc:
        raise NoahError("wrong_key", "GCM tag failure") from exc


def check_vector(t: dict) -> str | None:
    """One test of vectors/noah-v0/noah-v0.json; None when it is confirmed."""
    expected = t["result"]
    op = t["op"]
    seed = t["seedphrase"]
    try:
        if op == "derive":
            got = {"key": derive(seed), "salt": salt(seed)}
        elif op == "seal":
            got = {"body": seal(seed, bytes.fromhex(t["plaintext"]), bytes.fromhex(t["iv"]))}
        elif op == "open":
            got = {"plaintext": open_body(seed, bytes.fromhex(t["body"]))}
        else:
            return f"unknown op {op!r}"
    except NoahError as exc:
        return None if exc.cls == expected else f"expected {expected}, got {exc}"
    if expected != "ok":
        return f"expected {expected}, but {op} succeeded"
    for name, value in got.items():
        if value.hex() != t[name]:
            return f"{name}: expected {t[name]}, got {value.hex()}"
    if op == "seal":
        # What was sealed opens again to the plaintext.
        if open_body(seed, got["body"]).hex() != t["plaintext"]:
            return "the sealed body does not open to the plaintext"
    return None
