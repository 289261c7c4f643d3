#!/usr/bin/env python3
"""Tests of crosscheck.py itself: it confirms published known answers, and it notices a
vector that is wrong. Without the second half a crosscheck that passes everything would
look the same as one that checks everything.

Usage:  python3 ci/crosscheck/test_crosscheck.py      (last line: `N passed, M failed`)
"""

from __future__ import annotations

import base64
import contextlib
import copy
import io
import json
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import crosscheck as cc  # noqa: E402

# Published known answers, not computed by crosscheck.py.
RFC9106 = {  # RFC 9106 §5.3, Argon2id with secret and associated data
    "password": "01" * 32, "salt": "02" * 16, "secret": "03" * 8, "ad": "04" * 12,
    "m_cost": 32, "t_cost": 3, "p_cost": 4, "tag_len": 32,
    "tag": "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
}
RFC5869_1 = {  # RFC 5869 A.1
    "ikm": "0b" * 22, "salt": "000102030405060708090a0b0c", "info": "f0f1f2f3f4f5f6f7f8f9", "size": 42,
    "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
}
GCM_16 = {  # McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16
    "key": "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    "iv": "cafebabefacedbaddecaf888",
    "aad": "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    "msg": "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    "ct": "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    "tag": "76fc6ece0f4e1768cddf8853bb2d551b",
}


def doc(algorithm: str, tests: list[dict]) -> dict:
    for i, t in enumerate(tests, 1):
        t.setdefault("tcId", i)
        t.setdefault("comment", "")
        t.setdefault("flags", [])
        t.setdefault("result", "ok")
    return {"algorithm": algorithm, "schema": "x", "numberOfTests": len(tests), "notes": {}, "testGroups": [{"type": "T", "tests": tests}]}


def run_on(files: dict[str, dict]) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as d:
        for name, content in files.items():
            Path(d, name).write_text(json.dumps(content))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = cc.main([d])
        return code, out.getvalue()


def published() -> dict[str, dict]:
    key = bytes(range(32))
    nonce = bytes(12)
    raw_blob = cc.seal_blob(cc.SecretIn(key=key), b"hello", None, b"", nonce)
    return {
        "argon2id.json": doc("ARGON2ID", [dict(RFC9106)]),
        "hkdf-sha256.json": doc("HKDF-SHA256", [dict(RFC5869_1)]),
        "aes-256-gcm.json": doc("AES-256-GCM", [dict(GCM_16)]),
        "blob-v1.json": doc("BLOB-V1", [{"secret": {"key": key.hex()}, "blob": raw_blob.hex(), "plaintext": "68656c6c6f", "nonce": nonce.hex()}]),
    }


TESTS: list[tuple[str, Callable[[], None]]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append((fn.__name__, fn))
    return fn


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise AssertionError(msg)


@test
def published_answers_are_confirmed() -> None:
    code, out = run_on(published())
    expect(code == 0 and out.rstrip().endswith("4 passed, 0 failed"), out)


def tampered(file: str, mutate: Callable[[dict], None]) -> None:
    files = published()
    t = copy.deepcopy(files[file])
    mutate(t["testGroups"][0]["tests"][0])
    files[file] = t
    code, out = run_on(files)
    expect(code == 1 and "3 passed, 1 failed" in out, f"{file} tampered but: {out}")


def flip_last(hexstr: str) -> str:
    return hexstr[:-1] + ("0" if hexstr[-1] != "0" else "1")


@test
def a_wrong_argon2_tag_is_caught() -> None:
    tampered("argon2id.json", lambda t: t.update(tag=flip_last(t["tag"])))
    tampered("argon2id.json", lambda t: t.update(secret=""))  # secret must really be used
    tampered("argon2id.json", lambda t: t.update(ad=""))  # and the associated data


@test
def a_wrong_hkdf_okm_is_caught() -> None:
    tampered("hkdf-sha256.json", lambda t: t.update(okm=flip_last(t["okm"])))


@test
def a_wrong_gcm_answer_is_caught() -> None:
    tampered("aes-256-gcm.json", lambda t: t.update(tag=flip_last(t["tag"])))
    tampered("aes-256-gcm.json", lambda t: t.update(result="corrupted"))  # it authenticates


@test
def a_wrong_blob_expectation_is_caught() -> None:
    tampered("blob-v1.json", lambda t: t.update(plaintext="68656c6c"))
    tampered("blob-v1.json", lambda t: t.update(result="wrong_key"))
    tampered("blob-v1.json", lambda t: t.update(nonce="01" * 12))  # pinned re-seal differs


@test
def envelope_problems_are_failures() -> None:
    files = published()
    files["hkdf-sha256.json"]["numberOfTests"] = 2
    files["aes-256-gcm.json"]["testGroups"][0]["tests"][0]["flags"] = ["Undefined"]
    files["mystery.json"] = doc("MYSTERY", [{}])
    files["argon2id.json"]["testGroups"][0]["tests"][0]["salt"] = "02" * 15 + "0A"
    code, out = run_on(files)
    expect(code == 1, out)
    for needle in ("numberOfTests is 2", "flag 'Undefined'", "no independent checker for mystery.json", "salt is not lowercase hex"):
        expect(needle in out, f"missing {needle!r} in {out}")


@test
def no_vectors_is_a_failure() -> None:
    code, out = run_on({})
    expect(code == 1 and "0 passed, 0 failed" in out, out)


@test
def open_order_first_failing_step_wins() -> None:
    key = bytes(range(32))
    blob = cc.seal_blob(cc.SecretIn(key=key), b"x", None, b"", bytes(12))
    s = cc.SecretIn(key=key)

    def cls(b: bytes) -> str:
        try:
            cc.open_blob(s, b)
            return "ok"
        except cc.ClassError as e:
            return e.cls

    expect(cls(blob) == "ok", "baseline")
    expect(cls(b"BKPF\x02") == "malformed", "short beats version")
    expect(cls(blob[:4] + b"\x02\x09" + blob[6:]) == "unsupported_version", "version beats kdf id")
    expect(cls(blob[:5] + b"\x09" + blob[6:]) == "unsupported_kdf", "kdf id")
    expect(cls(blob[:15] + b"\x10" + blob[16:]) == "malformed", "raw blob with a salt_len")
    expect(cls(blob[:68 + 15]) == "malformed", "tag missing")
    expect(cls(blob[:30] + bytes([blob[30] ^ 1]) + blob[31:]) == "corrupted", "header digest")
    expect(cls(blob[:-1] + bytes([blob[-1] ^ 1])) == "corrupted", "tag")
    expect(cls(blob + b"\x00") == "corrupted", "trailing byte")
    try:
        cc.open_blob(cc.SecretIn(key=bytes(32)), blob)
        raise AssertionError("another key opened it")
    except cc.ClassError as e:
        expect(e.cls == "wrong_key", e.cls)


@test
def payload_decoder_is_as_strict_as_prost() -> None:
    good = [b"", b"\x08\x01", b"\x1a\x04\x0a\x02ab", b"\x12\x00", b"\x28\x05", b"\x2d\x00\x00\x00\x00", b"\x2b\x08\x01\x2c"]
    bad = [
        b"\x08",  # truncated varint
        b"\x08" + b"\xff" * 10,  # varint longer than 10 bytes
        b"\x0a\x01",  # schema with wire type LEN
        b"\x1a\x05\x0a",  # length past the end
        b"\x1a\x02\x0a\x01",  # inner length past the end
        b"\x1a\x03\x0a\x01\xff",  # invalid UTF-8 in uuid
        b"\x00",  # field number 0
        b"\x0e",  # wire type 6
        b"\x2c",  # end group without a start
        b"\x2b\x08\x01",  # group never ended
        b"\x2b\x34",  # group ended with another field number
    ]
    for g in good:
        cc.decode_payload(g)
    for b in bad:
        try:
            cc.decode_payload(b)
        except cc.ClassError as e:
            expect(e.cls == "payload_invalid", f"{b!r}: {e.cls}")
        else:
            raise AssertionError(f"{b!r} decoded")


@test
def seal_checks_length_then_policy() -> None:
    salt, nonce = bytes(16), bytes(12)
    for pw, kdf, want in (
        ("short", (7168, 5, 1), "passphrase_too_short"),
        ("short", (1024, 1, 1), "passphrase_too_short"),
        ("long enough passphrase", (7168, 4, 1), "kdf_params_rejected"),
        ("long enough passphrase", (7168, 5, 17), "kdf_params_rejected"),
        ("e\u0301" * 12, (7168, 5, 1), "passphrase_too_short"),  # 24 code points, 12 after NFC
    ):
        try:
            cc.seal_blob(cc.SecretIn(passphrase=pw), b"", kdf, salt, nonce)
            raise AssertionError(f"{pw!r} {kdf} sealed")
        except cc.ClassError as e:
            expect(e.cls == want, f"{pw!r} {kdf}: {e.cls}")


# ---------------------------------------------------------------- byok-json-v1

import byok_json_v1 as byok  # noqa: E402

REPO_BYOK = Path(__file__).resolve().parent.parent.parent / "vectors" / "byok-json-v1" / "byok-json-v1.json"
BYOK_T = "2026-03-14T09:26:53.589Z"


def byok_doc() -> dict:
    """A one-vector byok file: a pinned PBKDF2 seal (salt and nonce fixed)."""
    kdf = {"algorithm": "pbkdf2", "iterations": 100000}
    salt, nonce = bytes(range(16)), bytes(12)
    value = byok.seal_value("correct horse battery staple", b"{}", kdf, salt, nonce, BYOK_T, BYOK_T)
    blob = json.dumps(value, separators=(",", ":")).encode()
    return doc("BACKPROOF-BYOK-JSON-V1", [{
        "secret": {"passphrase": "correct horse battery staple"}, "blob": blob.hex(), "plaintext": b"{}".hex(),
        "kdf": kdf, "salt": salt.hex(), "nonce": nonce.hex(), "created_at": BYOK_T, "updated_at": BYOK_T,
    }])


def byok_run(mutate: Callable[[dict], None] | None = None) -> tuple[int, str]:
    d = byok_doc()
    if mutate:
        mutate(d["testGroups"][0]["tests"][0])
    return run_on({"byok-json-v1.json": d})


@test
def byok_pbkdf2_sha512_is_the_published_answer() -> None:
    # PBKDF2-HMAC-SHA512("password", "salt", 1), first 32 bytes: a published answer, used
    # directly as the AES key (no HKDF step).
    key = byok.derive("password", {"algorithm": "pbkdf2", "iterations": 1}, b"salt")
    expect(key.hex() == "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252", key.hex())


@test
def a_tampered_byok_vector_is_caught() -> None:
    code, out = byok_run()
    expect(code == 0 and "1 passed, 0 failed" in out, out)
    for name, mutate in (
        ("plaintext", lambda t: t.update(plaintext="7b7d7b7d")),
        ("result", lambda t: t.update(result="wrong_key")),
        ("nonce", lambda t: t.update(nonce="01" * 12)),  # the pinned re-seal differs
        ("created_at", lambda t: t.update(created_at="2026-03-14T09:26:54.589Z")),
        ("passphrase", lambda t: t.update(secret={"passphrase": "correct horse battery staple "})),
        ("blob", lambda t: t.update(blob=t["blob"].replace(b"100000".hex(), b"100001".hex()))),
    ):
        code, out = byok_run(mutate)
        expect(code == 1 and "0 passed, 1 failed" in out, f"{name} tampered but: {out}")


@test
def the_committed_byok_file_is_checked_and_a_flipped_result_fails() -> None:
    if not REPO_BYOK.exists():
        raise AssertionError(f"{REPO_BYOK} is missing")
    d = json.loads(REPO_BYOK.read_text(encoding="utf-8"))
    code, out = run_on({"byok-json-v1.json": d})
    n = d["numberOfTests"]
    expect(code == 0 and f"{n} passed, 0 failed" in out, out)
    # A malformed vector claimed to open, and a wrong_key vector claimed to be corrupted.
    tests = [t for g in d["testGroups"] for t in g["tests"]]
    first_malformed = next(t for t in tests if t["result"] == "malformed")
    first_malformed["result"] = "ok"
    first_malformed["plaintext"] = ""
    next(t for t in tests if t["result"] == "wrong_key")["result"] = "corrupted"
    code, out = run_on({"byok-json-v1.json": d})
    expect(code == 1 and f"{n - 2} passed, 2 failed" in out, out)


@test
def byok_open_order() -> None:
    d = byok_doc()["testGroups"][0]["tests"][0]
    good = json.loads(bytes.fromhex(d["blob"]))
    pw = "correct horse battery staple"

    def cls(edit: Callable[[dict], None], passphrase: str = pw) -> str:
        v = copy.deepcopy(good)
        edit(v)
        try:
            byok.open_blob(passphrase, json.dumps(v).encode())
            return "ok"
        except byok.ByokError as e:
            return e.cls

    expect(cls(lambda v: None) == "ok", "baseline")
    expect(cls(lambda v: v.update(version=2) or v.pop("created_at")) == "malformed", "fields before version")
    expect(cls(lambda v: v.update(version=True)) == "malformed", "a bool is not an integer")
    expect(cls(lambda v: v.update(version=2) or v["kdf"].update(algorithm="scrypt")) == "unsupported_version", "version before algorithm")
    expect(cls(lambda v: v["kdf"].update(algorithm="scrypt") or v["kdf"].pop("iterations")) == "unsupported_kdf", "algorithm before its members")
    expect(cls(lambda v: v["kdf"].update(iterations=1, salt="***")) == "kdf_params_rejected", "bounds before salt encoding")
    expect(cls(lambda v: v["kdf"].update(salt="***")) == "corrupted", "salt encoding")
    expect(cls(lambda v: v["kdf"].update(salt="AAAA")) == "kdf_params_rejected", "salt length")
    expect(cls(lambda v: v["kdf"].update(salt=v["kdf"]["salt"].rstrip("="))) == "corrupted", "padding")
    expect(cls(lambda v: v.update(encrypted_data="AAAA")) == "corrupted", "too short")
    expect(cls(lambda v: v.update(created_at="2026-02-29T00:00:00Z")) == "malformed", "not a leap year")
    expect(cls(lambda v: v.update(extra=[1])) == "ok", "extra members")
    expect(cls(lambda v: None, pw + " ") == "wrong_key", "no trimming")
    for raw in (b"\xef\xbb\xbf{}", b'{"version": NaN}', b'{"x": "\\ud800"}', b'{"x": 1e400}'):
        try:
            byok.parse_json(raw)
            raise AssertionError(f"{raw!r} parsed")
        except byok.ByokError as e:
            expect(e.cls == "malformed", f"{raw!r}: {e.cls}")


# ---------------------------------------------------------------- dbm-stream-v1

REPO_DBM = Path(__file__).resolve().parent.parent.parent / "vectors" / "dbm-stream-v1" / "dbm-stream-v1.json"


@test
def the_committed_dbm_file_is_checked_and_each_wrong_expectation_fails() -> None:
    d = json.loads(REPO_DBM.read_text(encoding="utf-8"))
    n = d["numberOfTests"]
    code, out = run_on({"dbm-stream-v1.json": d})
    expect(code == 0 and f"{n} passed, 0 failed" in out, out)
    tests = [t for g in d["testGroups"] for t in g["tests"]]
    ok_open = next(t for t in tests if t["op"] == "open" and t["result"] == "ok")
    ok_open["plaintext"] = flip_last(ok_open["plaintext"])
    next(t for t in tests if t["op"] == "open" and t["result"] == "corrupted")["result"] = "ok"
    next(t for t in tests if t["result"] == "too_large")["result"] = "payload_invalid"
    next(t for t in tests if t["op"] == "import_key" and t["result"] == "malformed")["result"] = "ok"
    decoyed = [t for t in tests if t["op"] == "recover" and t["result"] == "ok" and t["decoys"]]
    decoyed[0]["matched"] = decoyed[0]["decoys"][0]  # the heuristic's pick
    decoyed[1]["decoys"] = []
    pinned = next(t for t in tests if t["op"] == "seal" and "artifact" in t)
    pinned["artifact"] += pinned["authTag"]  # a codec that appends the tag
    code, out = run_on({"dbm-stream-v1.json": d})
    expect(code == 1 and f"{n - 7} passed, 7 failed" in out, out)


# ---------------------------------------------------------------- noah-v0

REPO_NOAH = Path(__file__).resolve().parent.parent.parent / "vectors" / "noah-v0" / "noah-v0.json"


def _noah_tests(d: dict) -> list[dict]:
    return [t for g in d["testGroups"] for t in g["tests"]]


@test
def the_committed_noah_file_is_checked_and_each_wrong_expectation_fails() -> None:
    d = json.loads(REPO_NOAH.read_text(encoding="utf-8"))
    n = d["numberOfTests"]
    code, out = run_on({"noah-v0.json": d})
    expect(code == 0 and f"{n} passed, 0 failed" in out, out)
    tests = _noah_tests(d)
    ok_open = next(t for t in tests if t["op"] == "open" and t["result"] == "ok")
    ok_open["plaintext"] = flip_last(ok_open["plaintext"])
    next(t for t in tests if t["op"] == "open" and t["result"] == "wrong_key")["result"] = "ok"
    next(t for t in tests if "StrictBase64" in t["flags"])["result"] = "ok"
    next(t for t in tests if "ShortBody" in t["flags"])["result"] = "wrong_key"
    derive = next(t for t in tests if t["op"] == "derive" and t["result"] == "ok")
    derive["salt"] = flip_last(derive["salt"])
    seal = next(t for t in tests if t["op"] == "seal" and t["result"] == "ok")
    seal["body"] = flip_last(seal["body"])
    code, out = run_on({"noah-v0.json": d})
    expect(code == 1 and f"{n - 6} passed, 6 failed" in out, out)


@test
def a_normalizing_or_lenient_noah_reader_fails_the_pinned_readings() -> None:
    import noah_v0

    d = json.loads(REPO_NOAH.read_text(encoding="utf-8"))
    tests = _noah_tests(d)
    original_seed, original_decode = noah_v0._seedphrase, noah_v0.decode_body
    try:
        # NFC-normalizing and trimming the seedphrase, as a "helpful" port would.
        noah_v0._seedphrase = lambda s: original_seed(unicodedata.normalize("NFC", s).strip())
        failing = {t["tcId"] for t in tests if noah_v0.check_vector(t) is not None}
        pinned = {t["tcId"] for t in tests if "NoNormalization" in t["flags"]}
        # Doubled spaces, tabs and case survive NFC and strip(): not every pin fails.
        expect(len(failing & pinned) >= 6, f"normalizing reader fails only {sorted(failing & pinned)}")
    finally:
        noah_v0._seedphrase = original_seed
    try:
        # Android's decoder: skips characters outside the alphabet, padding optional.
        def lenient(body: bytes) -> bytes:
            kept = bytes(c for c in body.replace(b"-", b"+").replace(b"_", b"/") if chr(c).isalnum() or c in b"+/")
            try:
                raw = base64.b64decode(kept + b"=" * (-len(kept) % 4))
            except ValueError as exc:  # a length no decoder can take
                raise noah_v0.NoahError("malformed", str(exc)) from exc
            if len(raw) < 28:
                raise noah_v0.NoahError("corrupted", "short")
            return raw

        noah_v0.decode_body = lenient
        failing = {t["tcId"] for t in tests if noah_v0.check_vector(t) is not None}
        pinned = {t["tcId"] for t in tests if "StrictBase64" in t["flags"]}
        expect(len(failing & pinned) >= 8, f"lenient reader fails only {sorted(failing & pinned)}")
    finally:
        noah_v0.decode_body = original_decode
    expect(all(noah_v0.check_vector(t) is None for t in tests), "the module was not restored")


# ---------------------------------------------------------------- metamask-vault

REPO_MM = Path(__file__).resolve().parent.parent.parent / "vectors" / "metamask-vault" / "metamask-vault.json"
MM_LIBRARY = Path(__file__).resolve().parent.parent.parent / "examples" / "adapters" / "metamask" / "node_modules" / "@metamask" / "browser-passworder"


def _cheap_mm_doc() -> dict:
    """The committed file without the vectors at the library's 900000 iterations."""
    d = json.loads(REPO_MM.read_text(encoding="utf-8"))
    for g in d["testGroups"]:
        g["tests"] = [
            t for t in g["tests"]
            if t.get("kdf", {}).get("iterations") != 900000 and not (t.get("op") == "rotate" and "kdf" not in t)
        ]
    d["numberOfTests"] = sum(len(g["tests"]) for g in d["testGroups"])
    return d


@test
def the_committed_metamask_file_is_checked_and_a_flipped_result_fails() -> None:
    d = _cheap_mm_doc()
    n = d["numberOfTests"]
    code, out = run_on({"metamask-vault.json": d})
    expect(code == 0 and f"{n} passed, 0 failed" in out, out)
    tests = [t for g in d["testGroups"] for t in g["tests"]]
    next(t for t in tests if t["result"] == "unsupported_kdf")["result"] = "malformed"
    next(t for t in tests if t.get("op") == "rotate" and t.get("changed") is False)["changed"] = True
    code, out = run_on({"metamask-vault.json": d})
    expect(code == 1 and f"{n - 2} passed, 2 failed" in out, out)


@test
def the_library_check_fails_on_a_wrong_expectation_and_a_forgotten_disagreement() -> None:
    if not MM_LIBRARY.exists():
        raise AssertionError(f"{MM_LIBRARY} is missing: run `npm ci` in examples/adapters/metamask")
    full = _cheap_mm_doc()
    tests = [t for g in full["testGroups"] for t in g["tests"]]
    # One agreement, one accepted alternative, one recorded disagreement.
    picked = [
        next(t for t in tests if "Legacy" in t["flags"] and t["result"] == "ok"),
        next(t for t in tests if t["result"] == "wrong_key" and "accept" in t),
        next(t for t in tests if "LibraryLenientBase64" in t["flags"]),
    ]

    def run(ts: list[dict]) -> tuple[int, str]:
        doc = dict(full, testGroups=[{"type": "Picked", "tests": ts}], numberOfTests=len(ts))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp, "v.json")
            path.write_text(json.dumps(doc))
            r = subprocess.run(
                [sys.executable, str(Path(__file__).with_name("test_metamask.py")), str(path)],
                capture_output=True, text=True, timeout=300,
            )
        return r.returncode, r.stdout + r.stderr

    code, out = run(picked)
    expect(code == 0 and "0 failed" in out, out)
    broken = json.loads(json.dumps(picked))
    broken[0]["plaintext"] = "7b7d"  # the library opens to something else
    broken[1]["accept"] = ["corrupted"]  # it answers wrong_key_or_corrupted
    del broken[2]["library"]  # the lenient base64 opens where the profile says corrupted
    code, out = run(broken)
    expect(code == 1 and "3 failed" in out, out)


def main() -> int:
    passed = failed = 0
    for name, fn in TESTS:
        try:
            fn()
        except Exception as exc:  # report every failing test, not just the first
            failed += 1
            print(f"FAIL {name}: {exc}")
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
