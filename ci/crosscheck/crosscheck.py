#!/usr/bin/env python3
"""Independent confirmation of backproof's known-answer vectors.

Recomputes every test in vectors/*.json from its inputs with Python's `cryptography` and
`argon2-cffi`, written from the blob-v1 specification alone (docs/FORMAT.md) and importing
nothing of backproof's. If the Rust reference and this script agree on every vector, a bug
would have to be made identically twice, in two languages and two crypto stacks.

Usage:  python3 ci/crosscheck/crosscheck.py [VECTORS_DIR] [--filter SUBSTR] [-v]
Exit:   0 all confirmed, 1 any mismatch (or nothing to check), 2 usage / unreadable input.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

try:
    from argon2.low_level import ARGON2_VERSION, Type, core, ffi, hash_secret_raw, lib
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import byok_json_v1
    import dbm_stream_v1
    import metamask_vault
    import noah_v0
except ImportError as exc:  # pragma: no cover - environment problem, not a vector problem
    sys.stderr.write(
        f"crosscheck: missing dependency ({exc}); run "
        "`python3 -m pip install -r ci/crosscheck/requirements.txt`\n"
    )
    sys.exit(2)

ERROR_CLASSES = frozenset(
    """malformed unsupported_version unsupported_kdf kdf_params_rejected wrong_key corrupted
    payload_invalid passphrase_too_short identity_mismatch not_found conflict unauthorized
    too_large too_small network server_error wrong_key_or_corrupted""".split()
)


class ClassError(Exception):
    """An outcome in the closed list of error classes (docs/FORMAT.md)."""

    def __init__(self, cls: str, message: str) -> None:
        assert cls in ERROR_CLASSES, cls
        super().__init__(f"{cls}: {message}")
        self.cls = cls


# ----------------------------------------------------------------------------------------
# Primitives
# ----------------------------------------------------------------------------------------


def argon2id(
    password: bytes,
    salt: bytes,
    m_cost: int,
    t_cost: int,
    p_cost: int,
    tag_len: int = 32,
    secret: bytes = b"",
    ad: bytes = b"",
    version: int = ARGON2_VERSION,
) -> bytes:
    """Argon2id through libargon2 (the reference C code bundled by argon2-cffi).

    The high-level `hash_secret_raw` has no way to pass the optional secret (K) and
    associated data (X) of RFC 9106, so those go through the raw `argon2_ctx` binding.
    """
    if not secret and not ad and version == ARGON2_VERSION:
        return hash_secret_raw(
            password, salt, t_cost, m_cost, p_cost, tag_len, Type.ID, version
        )
    out = ffi.new("uint8_t[]", tag_len)
    # cffi frees these when the Python objects die, so they must outlive the call.
    bufs = [ffi.new("uint8_t[]", b) if b else ffi.NULL for b in (password, salt, secret, ad)]
    ctx = ffi.new(
        "argon2_context *",
        {
            "out": out,
            "outlen": tag_len,
            "pwd": bufs[0],
            "pwdlen": len(password),
            "salt": bufs[1],
            "saltlen": len(salt),
            "secret": bufs[2],
            "secretlen": len(secret),
            "ad": bufs[3],
            "adlen": len(ad),
            "t_cost": t_cost,
            "m_cost": m_cost,
            "lanes": p_cost,
            "threads": p_cost,
            "version": version,
            "allocate_cbk": ffi.NULL,
            "free_cbk": ffi.NULL,
            "flags": lib.ARGON2_DEFAULT_FLAGS,
        },
    )
    rc = core(ctx, Type.ID.value)
    if rc != lib.ARGON2_OK:
        raise ValueError(f"argon2_ctx failed with code {rc}")
    return bytes(ffi.buffer(out, tag_len))


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, size: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=size, salt=salt or None, info=info).derive(ikm)


# ----------------------------------------------------------------------------------------
# Blob format v1
# ----------------------------------------------------------------------------------------

MAGIC = b"BKPF"
KDF_RAW, KDF_ARGON2ID = 0x00, 0x01
# magic 4, version 1, kdf_id 1, m 4, t 4, p 1, salt_len 1, nonce 12, key_check 32, digest 8
FIXED_HEADER_LEN = 4 + 1 + 1 + 4 + 4 + 1 + 1 + 12 + 32 + 8
TAG_LEN = 16
INFO_ENC = b"backproof v1 aes-256-gcm key"
INFO_CHECK = b"backproof v1 key check"
MIN_PASSPHRASE_SCALARS = 13


@dataclass(frozen=True)
class Policy:
    min_m_cost: int = 7168
    max_m_cost: int = 1048576
    min_t_cost: int = 1
    max_t_cost: int = 16
    min_p_cost: int = 1
    max_p_cost: int = 16
    min_m_times_t: int = 35840

    def check(self, m: int, t: int, p: int) -> None:
        problems = []
        if not self.min_m_cost <= m <= self.max_m_cost:
            problems.append(f"m_cost {m} outside {self.min_m_cost}..={self.max_m_cost}")
        if not self.min_t_cost <= t <= self.max_t_cost:
            problems.append(f"t_cost {t} outside {self.min_t_cost}..={self.max_t_cost}")
        if not self.min_p_cost <= p <= self.max_p_cost:
            problems.append(f"p_cost {p} outside {self.min_p_cost}..={self.max_p_cost}")
        if m < 8 * p:
            problems.append(f"m_cost {m} < 8*p_cost")
        if m * t < self.min_m_times_t:
            problems.append(f"m_cost*t_cost {m * t} < {self.min_m_times_t}")
        if problems:
            raise ClassError("kdf_params_rejected", "; ".join(problems))


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Header:
    kdf_id: int
    m_cost: int
    t_cost: int
    p_cost: int
    salt: bytes
    nonce: bytes
    key_check: bytes
    raw: bytes  # every header byte, magic .. header_digest: the GCM AAD


@dataclass(frozen=True)
class SecretIn:
    passphrase: str | None = None
    key: bytes | None = None

    @staticmethod
    def from_json(obj: Any) -> "SecretIn":
        if not isinstance(obj, dict):
            raise ValueError(f"secret must be an object, got {obj!r}")
        if "passphrase" in obj:
            return SecretIn(passphrase=obj["passphrase"])
        if "key" in obj:
            key = bytes.fromhex(obj["key"])
            if len(key) != 32:
                raise ValueError("raw key must be 32 bytes (64 hex digits)")
            return SecretIn(key=key)
        raise ValueError(f"secret has neither passphrase nor key: {obj!r}")


def parse_header(blob: bytes) -> Header:
    """Steps 1-4 of the open order."""
    if len(blob) < FIXED_HEADER_LEN or blob[:4] != MAGIC:
        raise ClassError("malformed", "shorter than the fixed header or bad magic")
    if blob[4] != 1:
        raise ClassError("unsupported_version", f"version {blob[4]}")
    kdf_id = blob[5]
    if kdf_id not in (KDF_RAW, KDF_ARGON2ID):
        raise ClassError("unsupported_kdf", f"kdf_id {kdf_id}")
    m = int.from_bytes(blob[6:10], "big")
    t = int.from_bytes(blob[10:14], "big")
    p = blob[14]
    salt_len = blob[15]
    if kdf_id == KDF_RAW:
        if salt_len or m or t or p:
            raise ClassError("malformed", "raw-key blob with non-zero kdf fields")
    elif not 16 <= salt_len <= 32:
        raise ClassError("malformed", f"salt_len {salt_len} outside 16..=32")
    header_len = FIXED_HEADER_LEN + salt_len
    if len(blob) < header_len + TAG_LEN:
        raise ClassError("malformed", "fewer than 16 bytes after the header")
    off = 16
    salt = blob[off : off + salt_len]
    off += salt_len
    nonce = blob[off : off + 12]
    off += 12
    key_check = blob[off : off + 32]
    off += 32
    digest = blob[off : off + 8]
    if hashlib.sha256(blob[:off]).digest()[:8] != digest:
        raise ClassError("corrupted", "header_digest mismatch")
    return Header(kdf_id, m, t, p, salt, nonce, key_check, blob[:header_len])


_derive_cache: dict[tuple, bytes] = {}


def derive_ikm(passphrase: str, salt: bytes, m: int, t: int, p: int) -> bytes:
    norm = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    k = (norm, salt, m, t, p)
    if k not in _derive_cache:
        _derive_cache[k] = argon2id(norm, salt, m, t, p, 32)
    return _derive_cache[k]


def ikm_for(header: Header, secret: SecretIn, policy: Policy) -> bytes:
    """Step 5 (policy before any derivation) and the ikm the secret gives for this blob.

    A secret of the wrong kind for the blob cannot produce the right ikm; it is reported as
    wrong_key, which is what a key_check comparison against any other value would give.
    """
    if header.kdf_id == KDF_ARGON2ID:
        policy.check(header.m_cost, header.t_cost, header.p_cost)
        if secret.passphrase is None:
            raise ClassError("wrong_key", "a raw key cannot open a passphrase blob")
        return derive_ikm(secret.passphrase, header.salt, header.m_cost, header.t_cost, header.p_cost)
    if secret.key is None:
        raise ClassError("wrong_key", "a passphrase cannot open a raw-key blob")
    return secret.key


def check_key(header: Header, secret: SecretIn, policy: Policy = DEFAULT_POLICY) -> bytes:
    """Steps 5-6; returns the AES key on success."""
    ikm = ikm_for(header, secret, policy)
    if not hmac.compare_digest(hkdf_sha256(ikm, b"", INFO_CHECK, 32), header.key_check):
        raise ClassError("wrong_key", "key_check mismatch")
    return hkdf_sha256(ikm, b"", INFO_ENC, 32)


def open_blob(secret: SecretIn, blob: bytes, policy: Policy = DEFAULT_POLICY) -> bytes:
    """Steps 1-7."""
    header = parse_header(blob)
    key = check_key(header, secret, policy)
    try:
        return AESGCM(key).decrypt(header.nonce, blob[len(header.raw) :], header.raw)
    except InvalidTag:
        raise ClassError("corrupted", "GCM authentication failed") from None


def seal_blob(
    secret: SecretIn,
    plaintext: bytes,
    kdf: tuple[int, int, int] | None,
    salt: bytes,
    nonce: bytes,
    policy: Policy = DEFAULT_POLICY,
) -> bytes:
    if len(nonce) != 12:
        raise ClassError("malformed", "nonce must be 12 bytes")
    if secret.passphrase is not None:
        norm = unicodedata.normalize("NFC", secret.passphrase)
        if len(norm) < MIN_PASSPHRASE_SCALARS:
            raise ClassError("passphrase_too_short", f"{len(norm)} scalar values after NFC")
        if kdf is None:
            raise ClassError("malformed", "passphrase seal needs kdf parameters")
        m, t, p = kdf
        policy.check(m, t, p)
        if not 16 <= len(salt) <= 32:
            raise ClassError("malformed", f"salt length {len(salt)} outside 16..=32")
        ikm = derive_ikm(norm, salt, m, t, p)
        pre = bytes([1, KDF_ARGON2ID]) + m.to_bytes(4, "big") + t.to_bytes(4, "big")
        pre += bytes([p, len(salt)]) + salt
    else:
        assert secret.key is not None
        ikm = secret.key
        pre = bytes([1, KDF_RAW]) + bytes(4 + 4 + 1 + 1)
    head = MAGIC + pre + nonce + hkdf_sha256(ikm, b"", INFO_CHECK, 32)
    head += hashlib.sha256(head).digest()[:8]
    return head + AESGCM(hkdf_sha256(ikm, b"", INFO_ENC, 32)).encrypt(nonce, plaintext, head)


# ----------------------------------------------------------------------------------------
# BackupPayload: a minimal protobuf wire decoder, strict where prost is strict
# ----------------------------------------------------------------------------------------

WT_VARINT, WT_I64, WT_LEN, WT_SGROUP, WT_EGROUP, WT_I32 = 0, 1, 2, 3, 4, 5
RECURSION_LIMIT = 100


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
            raise WireError("varint overflows 64 bits")
        value |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            return value, pos
    raise WireError("varint longer than 10 bytes")


def _key(buf: bytes, pos: int) -> tuple[int, int, int]:
    key, pos = _varint(buf, pos)
    if key > 0xFFFFFFFF:
        raise WireError(f"invalid key value {key}")
    wt, tag = key & 7, key >> 3
    if wt > 5:
        raise WireError(f"invalid wire type {wt}")
    if tag == 0:
        raise WireError("field number 0")
    return tag, wt, pos


def _skip(buf: bytes, pos: int, tag: int, wt: int, depth: int) -> int:
    if wt == WT_VARINT:
        return _varint(buf, pos)[1]
    if wt in (WT_I64, WT_I32):
        n = 8 if wt == WT_I64 else 4
        if pos + n > len(buf):
            raise WireError("truncated fixed-width field")
        return pos + n
    if wt == WT_LEN:
        n, pos = _varint(buf, pos)
        if n > len(buf) - pos:
            raise WireError("length-delimited field runs past the end")
        return pos + n
    if wt == WT_SGROUP:
        if depth >= RECURSION_LIMIT:
            raise WireError("recursion limit reached")
        while True:
            t2, w2, pos = _key(buf, pos)
            if w2 == WT_EGROUP:
                if t2 != tag:
                    raise WireError("unexpected end group tag")
                return pos
            pos = _skip(buf, pos, t2, w2, depth + 1)
    raise WireError("unexpected end group tag")


def _fields(buf: bytes, spec: dict[int, int], depth: int) -> Iterator[tuple[int, Any]]:
    """Yields (field number, value) for known fields; value is an int or the LEN bytes."""
    if depth > RECURSION_LIMIT:
        raise WireError("recursion limit reached")
    pos = 0
    while pos < len(buf):
        tag, wt, pos = _key(buf, pos)
        if tag not in spec:
            pos = _skip(buf, pos, tag, wt, depth)
            continue
        if wt != spec[tag]:
            raise WireError(f"field {tag}: wire type {wt}, expected {spec[tag]}")
        if wt == WT_VARINT:
            value, pos = _varint(buf, pos)
            yield tag, value
        else:
            n, pos = _varint(buf, pos)
            if n > len(buf) - pos:
                raise WireError(f"field {tag} runs past the end")
            yield tag, buf[pos : pos + n]
            pos += n


def _string(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"invalid UTF-8 in string field: {exc}") from None


def decode_payload(buf: bytes) -> dict:
    """Decode BackupPayload (package backproof.v1) or raise ClassError(payload_invalid)."""
    try:
        out: dict = {"schema": 0, "identity": None, "contacts": [], "profile": None}
        for tag, v in _fields(buf, {1: WT_VARINT, 2: WT_LEN, 3: WT_LEN, 4: WT_LEN}, 0):
            if tag == 1:
                out["schema"] = v & 0xFFFFFFFF  # prost truncates a uint32 varint
            elif tag == 2:
                ident = out["identity"] or {"public_key": b"", "private_key": b""}
                for t2, v2 in _fields(v, {1: WT_LEN, 2: WT_LEN}, 1):
                    ident["public_key" if t2 == 1 else "private_key"] = bytes(v2)
                out["identity"] = ident
            elif tag == 3:
                contact = {"uuid": "", "username": ""}
                for t2, v2 in _fields(v, {1: WT_LEN, 2: WT_LEN}, 1):
                    contact["uuid" if t2 == 1 else "username"] = _string(v2)
                out["contacts"].append(contact)
            else:
                prof = out["profile"] or {"attachment_id": "", "decryption_key": b""}
                for t2, v2 in _fields(v, {1: WT_LEN, 2: WT_LEN}, 1):
                    if t2 == 1:
                        prof["attachment_id"] = _string(v2)
                    else:
                        prof["decryption_key"] = bytes(v2)
                out["profile"] = prof
        return out
    except WireError as exc:
        raise ClassError("payload_invalid", str(exc)) from None


# ----------------------------------------------------------------------------------------
# Vector checkers: each yields (tcId, comment, problem-or-None)
# ----------------------------------------------------------------------------------------

Outcome = tuple[Any, str, "str | None"]


def _hex(t: dict, name: str) -> bytes:
    return bytes.fromhex(t.get(name, "") or "")


def _expect_equal(what: str, want: bytes, got: bytes) -> str | None:
    if want == got:
        return None
    return f"{what}: expected {want.hex()[:96]}{'…' if len(want) > 48 else ''}, got {got.hex()[:96]}{'…' if len(got) > 48 else ''}"


def check_argon2id(t: dict) -> str | None:
    tag = argon2id(
        _hex(t, "password"),
        _hex(t, "salt"),
        int(t["m_cost"]),
        int(t["t_cost"]),
        int(t["p_cost"]),
        int(t.get("tag_len") or len(_hex(t, "tag"))),
        _hex(t, "secret"),
        _hex(t, "ad"),
        int(t.get("version", ARGON2_VERSION)),
    )
    if t["result"] == "ok":
        return _expect_equal("tag", _hex(t, "tag"), tag)
    return None if tag != _hex(t, "tag") else f"tag matches but result is {t['result']}"


def check_hkdf(t: dict) -> str | None:
    okm = hkdf_sha256(_hex(t, "ikm"), _hex(t, "salt"), _hex(t, "info"), int(t["size"]))
    if t["result"] == "ok":
        return _expect_equal("okm", _hex(t, "okm"), okm)
    return None if okm != _hex(t, "okm") else f"okm matches but result is {t['result']}"


def check_aes_gcm(t: dict) -> str | None:
    key, iv, aad = _hex(t, "key"), _hex(t, "iv"), _hex(t, "aad")
    msg, ct, tag = _hex(t, "msg"), _hex(t, "ct"), _hex(t, "tag")
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=len(tag))).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        plain: bytes | None = dec.update(ct) + dec.finalize()
    except InvalidTag:
        plain = None
    if t["result"] == "ok":
        enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        enc.authenticate_additional_data(aad)
        got_ct = enc.update(msg) + enc.finalize()
        problem = _expect_equal("ct", ct, got_ct) or _expect_equal("tag", tag, enc.tag[: len(tag)])
        if problem:
            return problem
        if plain is None:
            return "decryption failed authentication"
        return _expect_equal("decrypted msg", msg, plain)
    if plain is not None:
        return f"expected {t['result']}, but the ciphertext authenticated"
    return None if t["result"] in ("corrupted", "wrong_key_or_corrupted") else f"unexpected result class {t['result']}"


def _kdf_tuple(t: dict) -> tuple[int, int, int] | None:
    k = t.get("kdf")
    if k is None:
        return None
    return int(k["m_cost"]), int(k["t_cost"]), int(k["p_cost"])


def _run(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except ClassError as exc:
        return exc.cls, str(exc)


def _compare_result(expected: str, got: str, detail: Any) -> str | None:
    if expected == got:
        return None
    if got == "ok":
        return f"expected {expected}, got ok"
    return f"expected {expected}, got {detail}"


def check_blob(t: dict) -> str | None:
    op = t.get("op", "open")
    secret = SecretIn.from_json(t["secret"])
    expected = t["result"]
    plaintext = _hex(t, "plaintext") if "plaintext" in t else None
    # Raw-key seals ignore kdf and salt, so for them the nonce alone pins the blob.
    pinned = "nonce" in t and (secret.key is not None or ("kdf" in t and "salt" in t))

    def reseal() -> str | None:
        if not pinned or plaintext is None:
            return None
        got = seal_blob(secret, plaintext, _kdf_tuple(t), _hex(t, "salt"), _hex(t, "nonce"))
        return _expect_equal("re-sealed blob", _hex(t, "blob"), got)

    if op == "seal":
        if "nonce" not in t:
            return "seal vector without a pinned nonce cannot be checked"
        cls, detail = _run(
            lambda: seal_blob(
                secret, plaintext or b"", _kdf_tuple(t), _hex(t, "salt"), _hex(t, "nonce")
            )
        )
        if expected != "ok":
            return _compare_result(expected, cls, detail)
        if cls != "ok":
            return f"seal failed: {detail}"
        problem = _expect_equal("sealed blob", _hex(t, "blob"), detail)
        if problem:
            return problem
        cls, detail = _run(lambda: open_blob(secret, detail))
        if cls != "ok":
            return f"pinned seal does not open: {detail}"
        return _expect_equal("round-trip plaintext", plaintext or b"", detail)

    if op not in ("open", "open_payload"):
        return f"unknown op {op!r}"

    blob = _hex(t, "blob")

    def go() -> bytes:
        plain = open_blob(secret, blob)
        if op == "open_payload":
            decode_payload(plain)
        return plain

    cls, detail = _run(go)
    problem = _compare_result(expected, cls, detail)
    if problem:
        return problem
    if expected == "ok":
        if plaintext is None:
            return "ok vector without plaintext"
        problem = _expect_equal("plaintext", plaintext, detail)
        if problem:
            return problem
        cls, detail = _run(reseal)
        if cls != "ok":
            return f"re-seal with pinned kdf/salt/nonce failed: {detail}"
        return detail
    return None


def check_recovery(t: dict) -> str | None:
    blob = _hex(t, "blob")
    tried: list[str] = []
    matched = None
    key = None
    try:
        header = parse_header(blob)
        for cand in t["candidates"]:
            tried.append(cand["id"])
            try:
                key = check_key(header, SecretIn.from_json(cand))
                matched = cand["id"]
                break
            except ClassError as exc:
                if exc.cls != "wrong_key":
                    raise
    except ClassError as exc:
        return _compare_result(t["result"], exc.cls, str(exc))
    if matched is None:
        if t["result"] != "wrong_key":
            return f"expected {t['result']}, no candidate matched (tried {tried})"
        if "tried" in t and t["tried"] != tried:
            return f"tried: expected {t['tried']}, got {tried}"
        return None
    if t["result"] != "ok":
        return f"expected {t['result']}, but candidate {matched!r} matched"
    if t.get("matched") != matched:
        return f"matched: expected {t.get('matched')!r}, got {matched!r}"
    try:
        assert key is not None
        plain = AESGCM(key).decrypt(header.nonce, blob[len(header.raw) :], header.raw)
    except InvalidTag:
        return "key_check matched but GCM authentication failed"
    if "plaintext" in t:
        return _expect_equal("plaintext", _hex(t, "plaintext"), plain)
    return None


CHECKERS: dict[str, Callable[[dict], "str | None"]] = {
    "argon2id.json": check_argon2id,
    "hkdf-sha256.json": check_hkdf,
    "aes-256-gcm.json": check_aes_gcm,
    "blob-v1.json": check_blob,
    "smart-recovery.json": check_recovery,
    # Profile folders (vectors/<profile>/*.json); each profile's checker is its own module.
    "byok-json-v1.json": byok_json_v1.check_vector,
    "metamask-vault.json": metamask_vault.check_vector,
    "dbm-stream-v1.json": dbm_stream_v1.check_vector,
    "noah-v0.json": noah_v0.check_vector,
}


HEX_FIELDS = frozenset(
    "password salt secret ad tag ikm info okm key iv aad msg ct blob plaintext nonce".split()
)


def _hex_fields(t: dict) -> Iterator[tuple[str, str]]:
    """Binary inputs anywhere in a test, including inside secrets and candidates."""
    for name, value in t.items():
        if name in HEX_FIELDS and isinstance(value, str):
            yield name, value
        elif name in ("secret", "candidates"):
            for obj in value if isinstance(value, list) else [value]:
                if isinstance(obj, dict) and isinstance(obj.get("key"), str):
                    yield f"{name}.key", obj["key"]


def structure_problems(doc: Any) -> list[str]:
    """The Wycheproof-style envelope every vector file shares (vectors/README.md)."""
    if not isinstance(doc, dict):
        return ["top level is not an object"]
    problems = [f"missing top-level key {k!r}" for k in ("algorithm", "schema", "numberOfTests", "notes", "testGroups") if k not in doc]
    if problems:
        return problems
    notes = doc["notes"] if isinstance(doc["notes"], dict) else {}
    tests = [t for g in doc["testGroups"] for t in g.get("tests", [])]
    if doc["numberOfTests"] != len(tests):
        problems.append(f"numberOfTests is {doc['numberOfTests']} but {len(tests)} tests are listed")
    seen: set = set()
    for t in tests:
        tc = t.get("tcId")
        if not isinstance(tc, int) or tc in seen:
            problems.append(f"tcId {tc!r} missing, not an integer, or duplicated")
        seen.add(tc)
        if t.get("result") != "ok" and t.get("result") not in ERROR_CLASSES:
            problems.append(f"tcId {tc}: result {t.get('result')!r} is not ok or an error class")
        for f in t.get("flags", []):
            if f not in notes:
                problems.append(f"tcId {tc}: flag {f!r} has no entry in notes")
        for name, value in _hex_fields(t):
            if len(value) % 2 or value.strip("0123456789abcdef"):
                problems.append(f"tcId {tc}: {name} is not lowercase hex of even length")
    return problems


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vectors", nargs="?", default=str(here.parent.parent / "vectors"), help="directory holding the vector files (default: the repository's vectors/)")
    ap.add_argument("--filter", default="", help="only files whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every test, not only failures")
    args = ap.parse_args(argv)

    vdir = Path(args.vectors)
    # v1's files sit at the top; every other profile has a folder (vectors/<profile>/),
    # and schema/ holds JSON Schemas, not vectors.
    candidates = list(vdir.glob("*.json")) + [p for p in vdir.glob("*/*.json") if p.parent.name != "schema"]
    files = sorted((p for p in candidates if args.filter in p.name), key=lambda p: p.relative_to(vdir).as_posix())
    if not files:
        print(f"crosscheck: no vector files (*.json) in {vdir}", file=sys.stderr)
        print("0 passed, 0 failed")
        return 1

    total_pass = total_fail = 0
    for path in files:
        passed = failed = 0
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"{path.name}: cannot read: {exc}", file=sys.stderr)
            return 2
        checker = CHECKERS.get(path.name)
        problems = structure_problems(doc)
        if checker is None:
            problems.append(f"no independent checker for {path.name}: it would go unconfirmed")
        for p in problems:
            print(f"FAIL {path.name}: {p}")
            failed += 1
        if checker is not None and isinstance(doc, dict):
            for group in doc.get("testGroups", []):
                for t in group.get("tests", []):
                    tc = t.get("tcId")
                    try:
                        problem = checker(t)
                    except (KeyError, ValueError, TypeError) as exc:
                        problem = f"vector unreadable: {type(exc).__name__}: {exc}"
                    if problem:
                        failed += 1
                        print(f"FAIL {path.name} tcId {tc} ({t.get('comment', '')}): {problem}")
                    else:
                        passed += 1
                        if args.verbose:
                            print(f"ok   {path.name} tcId {tc} ({t.get('comment', '')})")
        print(f"{path.name}: {passed} passed, {failed} failed")
        total_pass += passed
        total_fail += failed
    print(f"{total_pass} passed, {total_fail} failed")
    return 1 if total_fail else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
