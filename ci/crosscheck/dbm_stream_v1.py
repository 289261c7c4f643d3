"""Independent implementation of profile dbm-stream-v1, for crosscheck.py.

Written from docs/profiles/dbm-stream-v1.md alone, on Python's json, gzip and zlib, the
`brotli` package and cryptography's one-shot AESGCM (which takes 12- and 16-byte nonces);
it imports nothing of backproof's Rust code, nor of crosscheck.py or the other profiles'
modules. Where the Rust codec streams in two passes, this one holds the artifact in memory
and lets AESGCM check the tag: the same answers by another road.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

import brotli
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

IV_LENS = (12, 16)
TAG_LEN = 16
GZIP_MAGIC = b"\x1f\x8b\x08"
HEURISTIC_LEN = 1024
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_KEY = re.compile(r"[0-9a-fA-F]{64}")


class DbmError(Exception):
    def __init__(self, cls: str, message: str) -> None:
        super().__init__(f"{cls}: {message}")
        self.cls = cls


def _malformed(msg: str) -> DbmError:
    return DbmError("malformed", msg)


def _hex_member(obj: dict, name: str) -> bytes:
    if name not in obj:
        raise _malformed(f"{name} missing")
    v = obj[name]
    if not isinstance(v, str) or not _HEX.fullmatch(v):
        raise _malformed(f"{name} is not a hex string")
    return bytes.fromhex(v)


def parse_sidecar(raw: bytes) -> dict:
    """The sidecar's fields, or DbmError("malformed") for any defect (§2)."""
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _malformed(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _malformed("not an object")
    enc = doc.get("encryption")
    if not isinstance(enc, dict):
        raise _malformed("encryption missing or not an object")
    if enc.get("enabled") is not True:
        raise _malformed("encryption.enabled is not true")
    if not isinstance(enc.get("profileId"), str):
        raise _malformed("profileId missing or not a string")
    iv = _hex_member(enc, "iv")
    if len(iv) not in IV_LENS:
        raise _malformed(f"iv of {len(iv)} bytes")
    tag = _hex_member(enc, "authTag")
    if len(tag) != TAG_LEN:
        raise _malformed(f"authTag of {len(tag)} bytes")
    compression = doc.get("compression")
    if compression not in ("GZIP", "BROTLI", "NONE"):
        raise _malformed(f"compression {compression!r}")
    if "engineVersion" in doc and not isinstance(doc["engineVersion"], str):
        raise _malformed("engineVersion is not a string")
    return {"profileId": enc["profileId"], "iv": iv, "tag": tag, "compression": compression}


def _decompress(stream: bytes, compression: str) -> bytes:
    if compression == "NONE":
        return stream
    try:
        if compression == "GZIP":
            return _gunzip(stream)
        return brotli.decompress(stream)
    except (OSError, EOFError, zlib.error, brotli.error) as exc:
        raise DbmError("payload_invalid", f"{compression}: {exc}") from None


def _gunzip(stream: bytes) -> bytes:
    """Every member, as gunzip reads them; anything after the last member is an error
    (gzip.decompress would ignore zero padding, the profile does not)."""
    out = bytearray()
    rest = stream
    if not rest:
        raise EOFError("empty gzip stream")
    while rest:
        if not rest.startswith(b"\x1f\x8b"):
            raise OSError("trailing bytes after the gzip stream")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += d.decompress(rest)
        if not d.eof:
            raise EOFError("the gzip stream ends early")
        rest = d.unused_data
    return bytes(out)


def open_artifact(key: bytes, sidecar: dict, artifact: bytes, max_output: int | None) -> bytes:
    try:
        stream = AESGCM(key).decrypt(sidecar["iv"], artifact + sidecar["tag"], None)
    except InvalidTag:
        raise DbmError("corrupted", "tag mismatch") from None
    plain = _decompress(stream, sidecar["compression"])
    if max_output is not None and len(plain) > max_output:
        raise DbmError("too_large", f"{len(plain)} bytes over {max_output}")
    return plain


def import_key(text: str) -> bytes:
    if not _KEY.fullmatch(text):
        raise _malformed("not exactly 64 hex digits")
    return bytes.fromhex(text)


def _verifies(key: bytes, sidecar: dict, artifact: bytes) -> bool:
    try:
        AESGCM(key).decrypt(sidecar["iv"], artifact + sidecar["tag"], None)
        return True
    except InvalidTag:
        return False


def heuristic(key: bytes, iv: bytes, artifact: bytes) -> bool:
    """The design's first-block test, unauthenticated: the keystream is AESGCM's
    ciphertext of zeros under the same nonce."""
    head = artifact[:HEURISTIC_LEN]
    stream = AESGCM(key).encrypt(iv, bytes(len(head)), None)[: len(head)]
    plain = bytes(a ^ b for a, b in zip(head, stream))
    if plain.startswith(GZIP_MAGIC):
        return True
    printable = sum(1 for c in plain if 0x21 <= c <= 0x7E or c in b" \t\r\n")
    return bool(plain) and printable * 100 >= len(plain) * 95


def recover(sidecar: dict, artifact: bytes, candidates: list[tuple[str, bytes]]) -> tuple[str, list[str]]:
    named = [k for i, k in candidates if i == sidecar["profileId"]]
    if named:
        if not _verifies(named[0], sidecar, artifact):
            raise DbmError("corrupted", "the key the sidecar names does not verify")
        return sidecar["profileId"], []
    decoys = []
    for cid, key in candidates:
        if _verifies(key, sidecar, artifact):
            return cid, decoys
        if heuristic(key, sidecar["iv"], artifact):
            decoys.append(cid)
    raise DbmError("wrong_key", f"none of {len(candidates)} keys verifies")


def _expect(expected: str, exc: DbmError) -> str | None:
    return None if exc.cls == expected else f"expected {expected}, got {exc}"


def _seal(key: bytes, iv: bytes, compression: str, plain: bytes) -> tuple[bytes, bytes]:
    stream = {"NONE": plain, "GZIP": gzip.compress(plain), "BROTLI": brotli.compress(plain)}[compression]
    out = AESGCM(key).encrypt(iv, stream, None)
    return out[:-TAG_LEN], out[-TAG_LEN:]


def check_vector(t: dict) -> str | None:
    """One test of vectors/dbm-stream-v1/dbm-stream-v1.json; None when it is confirmed."""
    expected = t["result"]
    op = t["op"]
    try:
        if op == "import_key":
            key = import_key(t["input"])
            got = key.hex()
            want = t["key"]
        elif op == "open":
            sidecar = parse_sidecar(bytes.fromhex(t["sidecar"]))
            plain = open_artifact(bytes.fromhex(t["key"]), sidecar, bytes.fromhex(t["artifact"]), t.get("maxOutput"))
            got, want = plain.hex(), t.get("plaintext")
        elif op == "recover":
            sidecar = parse_sidecar(bytes.fromhex(t["sidecar"]))
            artifact = bytes.fromhex(t["artifact"])
            cands = [(c["id"], bytes.fromhex(c["key"])) for c in t["candidates"]]
            try:
                matched, decoys = recover(sidecar, artifact, cands)
            except DbmError as exc:
                # The decoys a failed recovery lists must still pass the heuristic.
                for cid, key in cands:
                    if cid in t["decoys"] and not heuristic(key, sidecar["iv"], artifact):
                        return f"{cid} is listed as a decoy but fails the heuristic"
                raise exc
            if matched != t["matched"] or decoys != t["decoys"]:
                return f"matched {matched} skipping {decoys}"
            key = dict(cands)[matched]
            got, want = open_artifact(key, sidecar, artifact, None).hex(), t["plaintext"]
        elif op == "seal":
            key, iv, plain = bytes.fromhex(t["key"]), bytes.fromhex(t["iv"]), bytes.fromhex(t["plaintext"])
            artifact, tag = _seal(key, iv, t["compression"], plain)
            if "artifact" in t and (artifact.hex() != t["artifact"] or tag.hex() != t["authTag"]):
                return "sealing gives other bytes"
            sidecar = {"iv": iv, "tag": tag, "compression": t["compression"], "profileId": t["profileId"]}
            got, want = open_artifact(key, sidecar, artifact, None).hex(), t["plaintext"]
        else:
            return f"unknown op {op!r}"
    except DbmError as exc:
        return _expect(expected, exc)
    if expected != "ok":
        return f"expected {expected}, but it succeeded"
    return None if want is None or got == want else f"gave {got[:64]}…"

