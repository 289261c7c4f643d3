"""Independent implementation of profile metamask-vault, for crosscheck.py.

Written from docs/profiles/metamask-vault.md alone, on Python's json, hashlib
(PBKDF2-HMAC-SHA256) and cryptography (AES-GCM with a 16-byte IV); it imports nothing of
backproof's Rust code, nor of crosscheck.py or byok_json_v1.py. It checks `result` (the
profile's answer); what the JavaScript library does is checked by test_metamask.py.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LEGACY_ITERATIONS, DEFAULT_ITERATIONS = 10_000, 900_000
MIN_ITERATIONS, MAX_ITERATIONS = 1, 10_000_000
MIN_SALT, MAX_SALT = 16, 64
IV_LEN, TAG_LEN = 16, 16


class VaultError(Exception):
    def __init__(self, cls: str, message: str) -> None:
        super().__init__(f"{cls}: {message}")
        self.cls = cls


class _Big:
    """An integer literal too long for Python's int parser limit: a JSON number, no integer."""


def _json(raw: bytes) -> Any:
    def parse_float(s: str) -> float:
        f = float(s)
        if not math.isfinite(f):
            raise ValueError(f"number {s} is out of range")
        return f

    def reject(s: str) -> Any:
        raise ValueError(f"{s} is not JSON")

    text = raw.decode("utf-8")  # strict
    value = json.loads(
        text,
        parse_int=lambda s: int(s) if len(s) < 64 else _Big(),
        parse_float=parse_float,
        parse_constant=reject,
    )
    _unicode(value)
    return value


def _unicode(v: Any) -> None:
    if isinstance(v, str):
        v.encode("utf-8")
    elif isinstance(v, list):
        for x in v:
            _unicode(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            _unicode(k)
            _unicode(x)


def is_json(raw: bytes) -> bool:
    try:
        _json(raw)
        return True
    except (UnicodeError, ValueError, RecursionError):
        return False


def _string(obj: dict, name: str) -> str:
    if name not in obj:
        raise VaultError("malformed", f"{name} missing")
    if not isinstance(obj[name], str):
        raise VaultError("malformed", f"{name} is not a string")
    return obj[name]


def _b64(s: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, ValueError):
        raise VaultError("corrupted", f"{what} is not base64") from None
    if base64.b64encode(raw).decode("ascii") != s:
        raise VaultError("corrupted", f"{what} is not canonical base64")
    return raw


def _check_iterations(n: int) -> None:
    if not MIN_ITERATIONS <= n <= MAX_ITERATIONS:
        raise VaultError("kdf_params_rejected", f"iterations {n}")


def _check_salt(salt: bytes) -> None:
    if not MIN_SALT <= len(salt) <= MAX_SALT:
        raise VaultError("kdf_params_rejected", f"salt of {len(salt)} bytes")


def parse(raw: bytes) -> tuple[int | None, bytes, bytes, bytes]:
    """Steps 1-6: (declared iterations or None for legacy, salt, iv, data)."""
    try:
        top = _json(raw)
    except (UnicodeError, ValueError, RecursionError) as exc:
        raise VaultError("malformed", f"not UTF-8 JSON: {exc}") from None
    if not isinstance(top, dict):
        raise VaultError("malformed", "not an object")
    data, iv, salt = _string(top, "data"), _string(top, "iv"), _string(top, "salt")
    iterations = None
    if "keyMetadata" in top:
        meta = top["keyMetadata"]
        if not isinstance(meta, dict):
            raise VaultError("malformed", "keyMetadata is not an object")
        algorithm = _string(meta, "algorithm")
        params = meta.get("params")
        if not isinstance(params, dict):
            raise VaultError("malformed", "keyMetadata.params missing or not an object")
        if "iterations" not in params or type(params["iterations"]) is not int:
            raise VaultError("malformed", "keyMetadata.params.iterations missing or not an integer")
        if algorithm != "PBKDF2":
            raise VaultError("unsupported_kdf", algorithm)
        iterations = params["iterations"]
        _check_iterations(iterations)
    salt_b, iv_b, data_b = _b64(salt, "salt"), _b64(iv, "iv"), _b64(data, "data")
    _check_salt(salt_b)
    if len(iv_b) != IV_LEN:
        raise VaultError("corrupted", f"iv of {len(iv_b)} bytes")
    if len(data_b) < TAG_LEN:
        raise VaultError("corrupted", f"data of {len(data_b)} bytes")
    return iterations, salt_b, iv_b, data_b


def derive(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations, 32)


def open_vault(password: str, raw: bytes) -> tuple[bytes, int | None]:
    iterations, salt, iv, data = parse(raw)
    key = derive(password, salt, LEGACY_ITERATIONS if iterations is None else iterations)
    try:
        plain = AESGCM(key).decrypt(iv, data, None)
    except InvalidTag:
        raise VaultError("wrong_key", "tag failure") from None
    if not is_json(plain):
        raise VaultError("corrupted", "plaintext is not JSON")
    return plain, iterations


def seal(password: str, plain: bytes, iterations: int | None, salt: bytes, iv: bytes) -> bytes:
    """The library's member order and spelling (docs/profiles/metamask-vault.md)."""
    _check_iterations(LEGACY_ITERATIONS if iterations is None else iterations)
    _check_salt(salt)
    if not is_json(plain):
        raise VaultError("malformed", "plaintext is not JSON")
    key = derive(password, salt, LEGACY_ITERATIONS if iterations is None else iterations)
    data = AESGCM(key).encrypt(iv, plain, None)
    b = lambda x: base64.b64encode(x).decode("ascii")  # noqa: E731
    meta = "" if iterations is None else f'"keyMetadata":{{"algorithm":"PBKDF2","params":{{"iterations":{iterations}}}}},'
    return f'{{"data":"{b(data)}","iv":"{b(iv)}",{meta}"salt":"{b(salt)}"}}'.encode("ascii")


def _iterations(kdf: dict) -> int | None:
    return None if kdf.get("legacy") is True else kdf["iterations"]


def _expect(expected: str, exc: VaultError) -> str | None:
    return None if exc.cls == expected else f"expected {expected}, got {exc}"


def check_vector(t: dict) -> str | None:
    """One test of vectors/metamask-vault/metamask-vault.json; None when it is confirmed."""
    expected = t["result"]
    op = t.get("op", "open")
    if op == "derive":
        iterations = _iterations(t["kdf"])
        key = derive(t["passphrase"], bytes.fromhex(t["salt"]), LEGACY_ITERATIONS if iterations is None else iterations)
        return None if key.hex() == t["ikm"] else f"derived {key.hex()}"
    password = t["secret"]["passphrase"]
    if op == "open":
        raw = bytes.fromhex(t["blob"])
        try:
            plain, _ = open_vault(password, raw)
        except VaultError as exc:
            return _expect(expected, exc)
        if expected != "ok":
            return f"expected {expected}, but it opened"
        if plain.hex() != t["plaintext"]:
            return f"plaintext {plain!r}"
        if "iv" in t:
            sealed = seal(password, plain, _iterations(t["kdf"]), bytes.fromhex(t["salt"]), bytes.fromhex(t["iv"]))
            if sealed != raw:
                return f"pinned seal gives {sealed.decode()}"
        return None
    if op == "seal":
        try:
            sealed = seal(password, bytes.fromhex(t["plaintext"]), _iterations(t["kdf"]), bytes.fromhex(t["salt"]), bytes(16))
        except VaultError as exc:
            return _expect(expected, exc)
        if expected != "ok":
            return f"expected {expected}, but it sealed"
        plain, iterations = open_vault(password, sealed)
        return None if plain.hex() == t["plaintext"] and iterations == _iterations(t["kdf"]) else "reopen differs"
    if op == "rotate":
        target = t["kdf"]["iterations"] if "kdf" in t else DEFAULT_ITERATIONS
        raw = bytes.fromhex(t["blob"])
        try:
            _check_iterations(target)
            declared = parse(raw)[0]
            if declared == target:
                changed, out, reopen_pw = False, raw, None
            else:
                plain, _ = open_vault(password, raw)
                changed, out, reopen_pw = True, seal(password, plain, target, bytes(range(32)), bytes(16)), password
        except VaultError as exc:
            return _expect(expected, exc)
        if expected != "ok":
            return f"expected {expected}, but it updated"
        if changed != t["changed"]:
            return f"changed = {changed}"
        if reopen_pw is not None:
            plain, iterations = open_vault(reopen_pw, out)
            if plain.hex() != t["plaintext"] or iterations != target:
                return "the updated vault differs"
        return None
    return f"unknown op {op!r}"
