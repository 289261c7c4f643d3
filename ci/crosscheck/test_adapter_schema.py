#!/usr/bin/env python3
"""Checks docs/schema/adapter-request.schema.json and adapter-answer.schema.json against
example lines of the adapter protocol (docs/ADAPTER.md): lines the reference adapter
accepts or emits must validate, lines it refuses must not.

Usage:  python3 ci/crosscheck/test_adapter_schema.py [-v]
Needs `jsonschema` (draft 2020-12). Prints one line per failure (every line with -v) and a
final `N passed, M failed`; exits 1 on any failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMAS = ROOT / "docs" / "schema"

KEY = "00" * 31 + "01"
SERVER = {"url": "http://127.0.0.1:8080", "token": "bpt1.alice.xyz"}
KDF = {"m_cost": 7168, "t_cost": 5, "p_cost": 1}
PASS = {"passphrase": "correct horse battery staple"}
BYOK = "byok-json-v1"
DBM = "dbm-stream-v1"
STORE = {"kind": "object-store", "endpoint": "http://127.0.0.1:9000", "bucket": "backproof",
         "region": "us-east-1", "access_key": "AKIA", "secret_key": "s3cr3t", "prefix": "case-17/",
         "user": "alice"}
NOAH = "noah-v0"
NOAH_STORE = {"kind": NOAH, "url": "http://127.0.0.1:8080", "token": "bpt1.alice.xyz"}
SEED = {"passphrase": "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"}
SLOT = {"backup_version": 2, "created_at": "2026-11-30T09:41:02.123456Z", "backup_size": 40}

# (description, request object, valid?)
REQUESTS: list[tuple[str, object, bool]] = [
    ("hello", {"id": 1, "op": "hello"}, True),
    ("hello with extra member (ignored)", {"id": 1, "op": "hello", "x": 1}, True),
    ("derive", {"id": 2, "op": "derive", "passphrase": "pw", "salt": "00" * 16, "kdf": KDF}, True),
    ("derive empty salt", {"id": 2, "op": "derive", "passphrase": "pw", "salt": "", "kdf": KDF}, True),
    ("seal minimal", {"id": 3, "op": "seal", "profile": "v1", "secret": PASS, "plaintext": "abcd"}, True),
    (
        "seal known-answer",
        {"id": 3, "op": "seal", "profile": "v1", "secret": {"key": KEY}, "plaintext": "",
         "kdf": KDF, "salt": "11" * 16, "nonce": "22" * 12},
        True,
    ),
    ("seal null optionals", {"id": 3, "op": "seal", "profile": "v1", "secret": PASS,
                             "plaintext": "00", "kdf": None, "salt": None, "nonce": None}, True),
    ("secret with null other half", {"id": 4, "op": "open", "profile": "v1",
                                     "secret": {"passphrase": "x", "key": None}, "blob": "00"}, True),
    ("open", {"id": 4, "op": "open", "profile": "v1", "secret": {"key": KEY}, "blob": "424b5046"}, True),
    ("backup", {"id": 5, "op": "backup", "profile": "v1", "server": SERVER, "secret": PASS, "payload": "0801"}, True),
    ("restore", {"id": 6, "op": "restore", "profile": "v1", "server": SERVER, "secret": PASS}, True),
    ("rotate", {"id": 7, "op": "rotate", "profile": "v1", "server": SERVER, "old": PASS, "new": {"key": KEY}}, True),
    (
        "recover",
        {"id": 8, "op": "recover", "profile": "v1", "server": SERVER,
         "candidates": [{"id": "old", "passphrase": "x"}, {"id": "export", "key": KEY}]},
        True,
    ),
    ("recover no candidates", {"id": 8, "op": "recover", "profile": "v1", "server": SERVER, "candidates": []}, True),
    ("delete", {"id": 9, "op": "delete", "profile": "v1", "server": SERVER}, True),
    ("delete without profile (v1)", {"id": 9, "op": "delete", "server": SERVER}, True),
    ("profile null (v1)", {"id": 9, "op": "delete", "profile": None, "server": SERVER}, True),
    ("profile v2 parses (answered unsupported_version)", {"id": 9, "op": "delete", "profile": "v2", "server": SERVER}, True),
    # invalid
    ("not an object", [1, 2], False),
    ("missing id", {"op": "hello"}, False),
    ("negative id", {"id": -1, "op": "hello"}, False),
    ("string id", {"id": "1", "op": "hello"}, False),
    ("missing op", {"id": 1}, False),
    ("unknown op", {"id": 1, "op": "frobnicate"}, False),
    ("uppercase hex", {"id": 4, "op": "open", "profile": "v1", "secret": PASS, "blob": "ABCD"}, False),
    ("odd-length hex", {"id": 4, "op": "open", "profile": "v1", "secret": PASS, "blob": "abc"}, False),
    ("short key", {"id": 4, "op": "open", "profile": "v1", "secret": {"key": "00" * 31}, "blob": "00"}, False),
    ("both secret halves", {"id": 4, "op": "open", "profile": "v1",
                            "secret": {"passphrase": "x", "key": KEY}, "blob": "00"}, False),
    ("empty secret", {"id": 4, "op": "open", "profile": "v1", "secret": {}, "blob": "00"}, False),
    ("unknown member in secret", {"id": 4, "op": "open", "profile": "v1",
                                  "secret": {"passphrase": "x", "salt": "00"}, "blob": "00"}, False),
    ("seal nonce of 11 bytes", {"id": 3, "op": "seal", "profile": "v1", "secret": PASS,
                                "plaintext": "00", "nonce": "22" * 11}, False),
    ("derive without kdf", {"id": 2, "op": "derive", "passphrase": "pw", "salt": "00" * 16}, False),
    ("kdf m_cost negative", {"id": 2, "op": "derive", "passphrase": "pw", "salt": "00",
                             "kdf": {"m_cost": -1, "t_cost": 1, "p_cost": 1}}, False),
    ("kdf m_cost above u32", {"id": 2, "op": "derive", "passphrase": "pw", "salt": "00",
                              "kdf": {"m_cost": 2**32, "t_cost": 1, "p_cost": 1}}, False),
    ("backup without server", {"id": 5, "op": "backup", "profile": "v1", "secret": PASS, "payload": ""}, False),
    ("server without token", {"id": 6, "op": "restore", "profile": "v1",
                              "server": {"url": "http://x"}, "secret": PASS}, False),
    ("rotate without new", {"id": 7, "op": "rotate", "profile": "v1", "server": SERVER, "old": PASS}, False),
    ("candidate without id", {"id": 8, "op": "recover", "profile": "v1", "server": SERVER,
                              "candidates": [{"passphrase": "x"}]}, False),
    ("candidate without secret", {"id": 8, "op": "recover", "profile": "v1", "server": SERVER,
                                  "candidates": [{"id": "a"}]}, False),
    ("profile not a string", {"id": 9, "op": "delete", "profile": 1, "server": SERVER}, False),
    # profile byok-json-v1: a store instead of a server, passphrases only
    ("byok seal minimal", {"id": 20, "op": "seal", "profile": BYOK, "secret": PASS, "plaintext": "7b7d"}, True),
    (
        "byok seal pinned",
        {"id": 20, "op": "seal", "profile": BYOK, "secret": PASS, "plaintext": "7b7d",
         "kdf": {"algorithm": "pbkdf2", "iterations": 600000}, "salt": "11" * 16, "nonce": "22" * 12,
         "created_at": "2026-03-14T09:26:53.589Z", "updated_at": "2026-03-14T09:26:53.589Z"},
        True,
    ),
    ("byok seal argon2id", {"id": 20, "op": "seal", "profile": BYOK, "secret": PASS, "plaintext": "",
                            "kdf": {"algorithm": "argon2id", "iterations": 3, "memory": 65536, "parallelism": 4}}, True),
    ("byok open", {"id": 21, "op": "open", "profile": BYOK, "secret": PASS, "blob": "7b7d"}, True),
    ("byok backup", {"id": 22, "op": "backup", "profile": BYOK, "store": STORE, "secret": PASS, "payload": "7b7d"}, True),
    ("byok restore", {"id": 23, "op": "restore", "profile": BYOK, "store": STORE, "secret": PASS}, True),
    ("byok restore, store without prefix", {"id": 23, "op": "restore", "profile": BYOK,
                                            "store": {k: v for k, v in STORE.items() if k != "prefix"}, "secret": PASS}, True),
    ("byok rotate", {"id": 24, "op": "rotate", "profile": BYOK, "store": STORE, "old": PASS,
                     "new": {"passphrase": "new one"}}, True),
    ("byok recover", {"id": 25, "op": "recover", "profile": BYOK, "store": STORE,
                      "candidates": [{"id": "old", "passphrase": "x"}, {"id": "new", "passphrase": "y"}]}, True),
    ("byok delete", {"id": 26, "op": "delete", "profile": BYOK, "store": STORE}, True),
    ("byok restore with a server", {"id": 23, "op": "restore", "profile": BYOK, "server": SERVER, "secret": PASS}, False),
    ("byok raw key", {"id": 23, "op": "restore", "profile": BYOK, "store": STORE, "secret": {"key": KEY}}, False),
    ("byok candidate with a key", {"id": 25, "op": "recover", "profile": BYOK, "store": STORE,
                                   "candidates": [{"id": "k", "key": KEY}]}, False),
    ("byok store of another kind", {"id": 26, "op": "delete", "profile": BYOK, "store": {**STORE, "kind": "api-v1"}}, False),
    ("byok store endpoint not http(s)", {"id": 26, "op": "delete", "profile": BYOK,
                                         "store": {**STORE, "endpoint": "ftp://127.0.0.1"}}, False),
    ("byok store empty bucket", {"id": 26, "op": "delete", "profile": BYOK, "store": {**STORE, "bucket": ""}}, False),
    ("byok store user with /", {"id": 26, "op": "delete", "profile": BYOK, "store": {**STORE, "user": "a/b"}}, False),
    ("byok store without secret_key", {"id": 26, "op": "delete", "profile": BYOK,
                                       "store": {k: v for k, v in STORE.items() if k != "secret_key"}}, False),
    ("byok seal with v1 kdf", {"id": 20, "op": "seal", "profile": BYOK, "secret": PASS, "plaintext": "", "kdf": KDF}, False),
    ("byok seal argon2id without memory", {"id": 20, "op": "seal", "profile": BYOK, "secret": PASS, "plaintext": "",
                                           "kdf": {"algorithm": "argon2id", "iterations": 3, "parallelism": 4}}, False),
    ("v1 backup with a store", {"id": 5, "op": "backup", "profile": "v1", "store": STORE, "secret": PASS, "payload": ""}, False),
    # Profile dbm-stream-v1 (docs/profiles/dbm-stream-v1.md §8).
    ("dbm import_key", {"id": 40, "op": "import_key", "profile": DBM, "input": " not hex "}, True),
    ("dbm import_key without input", {"id": 40, "op": "import_key", "profile": DBM}, False),
    ("dbm export_key", {"id": 41, "op": "export_key", "profile": DBM, "keyId": "9b2f6c1e"}, True),
    ("dbm export_key without keyId", {"id": 41, "op": "export_key", "profile": DBM}, False),
    ("dbm backup, device key", {"id": 42, "op": "backup", "profile": DBM, "store": STORE, "payload": "0801"}, True),
    ("dbm backup with key, iv, compression",
     {"id": 42, "op": "backup", "profile": DBM, "store": STORE, "payload": "", "key": KEY,
      "iv": "22" * 12, "compression": "BROTLI"}, True),
    ("dbm backup with key and keyId", {"id": 42, "op": "backup", "profile": DBM, "store": STORE,
                                       "payload": "", "key": KEY, "keyId": "a"}, False),
    ("dbm backup compression lower case", {"id": 42, "op": "backup", "profile": DBM, "store": STORE,
                                           "payload": "", "compression": "gzip"}, False),
    ("dbm backup with a server", {"id": 42, "op": "backup", "profile": DBM, "server": SERVER,
                                  "payload": ""}, False),
    ("dbm restore", {"id": 43, "op": "restore", "profile": DBM, "store": STORE,
                     "output": "/tmp/x.sql", "maxOutput": 1048576}, True),
    ("dbm restore without output", {"id": 43, "op": "restore", "profile": DBM, "store": STORE}, False),
    ("dbm open to a path", {"id": 44, "op": "open", "profile": DBM, "key": KEY, "sidecar": "7b7d",
                            "artifact": "", "output": "/tmp/y"}, True),
    ("dbm rotate (no such op)", {"id": 45, "op": "rotate", "profile": DBM, "store": STORE,
                                 "old": PASS, "new": PASS}, False),
    # Profile noah-v0 (docs/profiles/noah-v0.md §7): derive takes the seedphrase alone.
    ("noah derive", {"id": 30, "op": "derive", "profile": "noah-v0", "passphrase": "abandon about"}, True),
    ("noah seal", {"id": 31, "op": "seal", "profile": "noah-v0", "secret": PASS, "plaintext": "00",
                   "nonce": "07" * 12}, True),
    ("noah open", {"id": 32, "op": "open", "profile": "noah-v0", "secret": PASS, "blob": "4141"}, True),
    ("noah derive without a seedphrase", {"id": 30, "op": "derive", "profile": "noah-v0"}, False),
    ("noah derive with an empty seedphrase", {"id": 30, "op": "derive", "profile": "noah-v0", "passphrase": ""}, False),
    # Profile noah-v0's store: an API v0 server (docs/profiles/noah-v0.md §7).
    ("noah backup", {"id": 33, "op": "backup", "profile": NOAH, "store": NOAH_STORE, "secret": SEED,
                     "payload": "53514c69746520666f726d6174203300"}, True),
    ("noah backup of an empty database", {"id": 33, "op": "backup", "profile": NOAH, "store": NOAH_STORE,
                                          "secret": SEED, "payload": ""}, True),
    ("noah restore", {"id": 34, "op": "restore", "profile": NOAH, "store": NOAH_STORE, "secret": SEED}, True),
    ("noah list", {"id": 35, "op": "list", "profile": NOAH, "store": NOAH_STORE}, True),
    ("noah delete", {"id": 36, "op": "delete", "profile": NOAH, "store": NOAH_STORE, "backup_version": 2}, True),
    ("noah delete of slot 3 (the server's to refuse)", {"id": 36, "op": "delete", "profile": NOAH,
                                                        "store": NOAH_STORE, "backup_version": 3}, True),
    ("noah settings, set", {"id": 37, "op": "settings", "profile": NOAH, "store": NOAH_STORE,
                            "backup_enabled": False}, True),
    ("noah settings, read", {"id": 37, "op": "settings", "profile": NOAH, "store": NOAH_STORE}, True),
    ("noah backup with a server", {"id": 33, "op": "backup", "profile": NOAH, "server": SERVER,
                                   "secret": SEED, "payload": ""}, False),
    ("noah backup with an object store", {"id": 33, "op": "backup", "profile": NOAH, "store": STORE,
                                          "secret": SEED, "payload": ""}, False),
    ("noah backup with a raw key", {"id": 33, "op": "backup", "profile": NOAH, "store": NOAH_STORE,
                                    "secret": {"key": KEY}, "payload": ""}, False),
    ("noah restore with an empty seedphrase", {"id": 34, "op": "restore", "profile": NOAH,
                                               "store": NOAH_STORE, "secret": {"passphrase": ""}}, False),
    ("noah store url not http(s)", {"id": 35, "op": "list", "profile": NOAH,
                                    "store": {**NOAH_STORE, "url": "ftp://x"}}, False),
    ("noah store token with a space", {"id": 35, "op": "list", "profile": NOAH,
                                       "store": {**NOAH_STORE, "token": "a b"}}, False),
    ("noah store without token", {"id": 35, "op": "list", "profile": NOAH,
                                  "store": {"kind": NOAH, "url": "http://x"}}, False),
    ("noah delete without backup_version", {"id": 36, "op": "delete", "profile": NOAH, "store": NOAH_STORE}, False),
    ("noah delete version as a string", {"id": 36, "op": "delete", "profile": NOAH, "store": NOAH_STORE,
                                         "backup_version": "1"}, False),
    ("noah settings enabled as a string", {"id": 37, "op": "settings", "profile": NOAH, "store": NOAH_STORE,
                                           "backup_enabled": "yes"}, False),
    ("noah rotate (no such op)", {"id": 38, "op": "rotate", "profile": NOAH, "store": NOAH_STORE,
                                  "old": SEED, "new": SEED}, False),
    ("list without a profile (v1 has none)", {"id": 35, "op": "list", "server": SERVER}, False),
    ("settings of profile dbm", {"id": 37, "op": "settings", "profile": DBM, "store": STORE}, False),
]

# (description, answer object, result $def or None, valid?)
ANSWERS: list[tuple[str, object, str | None, bool]] = [
    ("hello", {"id": 1, "result": {"protocol": 1, "implementation": "backproof-reference 0.1.0",
                                   "profiles": ["v1"], "ops": ["hello", "seal", "open"]}}, "helloResult", True),
    ("derive", {"id": 2, "result": {"ikm": "ab" * 32}}, "deriveResult", True),
    ("seal", {"id": 3, "result": {"blob": "424b504601"}}, "sealResult", True),
    ("open", {"id": 4, "result": {"plaintext": ""}}, "openResult", True),
    ("backup", {"id": 5, "result": {"version": 3}}, "backupResult", True),
    ("restore", {"id": 6, "result": {"payload": "0801", "version": 3}}, "restoreResult", True),
    ("rotate", {"id": 7, "result": {"version": 4}}, "rotateResult", True),
    ("recover", {"id": 8, "result": {"matched": "old", "payload": "0801", "version": 4}}, "recoverResult", True),
    ("delete", {"id": 9, "result": {}}, "deleteResult", True),
    ("error", {"id": 6, "error": {"class": "wrong_key", "message": "wrong passphrase or key"}}, None, True),
    ("recover wrong_key with tried", {"id": 8, "error": {"class": "wrong_key", "message": "none matched",
                                                        "tried": ["a", "b"]}}, None, True),
    ("malformed, id unknown", {"id": None, "error": {"class": "malformed", "message": "request line is not JSON"}}, None, True),
    # invalid
    ("no id", {"result": {}}, None, False),
    ("both result and error", {"id": 1, "result": {}, "error": {"class": "network", "message": "x"}}, None, False),
    ("neither result nor error", {"id": 1}, None, False),
    ("result not an object", {"id": 1, "result": 5}, None, False),
    ("unknown class", {"id": 1, "error": {"class": "oops", "message": "x"}}, None, False),
    ("error without message", {"id": 1, "error": {"class": "network"}}, None, False),
    ("tried not strings", {"id": 1, "error": {"class": "wrong_key", "message": "x", "tried": [1]}}, None, False),
    ("string id", {"id": "1", "result": {}}, None, False),
    ("hello protocol 2", {"id": 1, "result": {"protocol": 2, "implementation": "x", "profiles": [], "ops": []}},
     "helloResult", False),
    ("hello without ops", {"id": 1, "result": {"protocol": 1, "implementation": "x", "profiles": []}},
     "helloResult", False),
    ("derive ikm of 31 bytes", {"id": 2, "result": {"ikm": "ab" * 31}}, "deriveResult", False),
    ("seal uppercase blob", {"id": 3, "result": {"blob": "ABCD"}}, "sealResult", False),
    ("backup version negative", {"id": 5, "result": {"version": -1}}, "backupResult", False),
    ("restore without version", {"id": 6, "result": {"payload": ""}}, "restoreResult", False),
    ("recover without matched", {"id": 8, "result": {"payload": "", "version": 1}}, "recoverResult", False),
    # profile byok-json-v1
    ("hello with byok", {"id": 1, "result": {"protocol": 1, "implementation": "backproof-reference 0.1.0",
                                             "profiles": ["v1", BYOK], "ops": ["hello", "seal"]}}, "helloResult", True),
    ("byok seal", {"id": 20, "result": {"blob": "7b7d"}}, "byokSealResult", True),
    ("byok open", {"id": 21, "result": {"plaintext": "", "created_at": "2026-03-14T09:26:53.589Z",
                                        "updated_at": "2026-03-14T09:26:53.589Z"}}, "byokOpenResult", True),
    ("byok backup", {"id": 22, "result": {}}, "byokBackupResult", True),
    ("byok restore", {"id": 23, "result": {"payload": "7b7d", "created_at": "2026-03-14T09:26:53.589Z",
                                           "updated_at": "2026-03-15T18:02:11.004Z"}}, "byokRestoreResult", True),
    ("byok rotate", {"id": 24, "result": {}}, "byokRotateResult", True),
    ("byok recover", {"id": 25, "result": {"matched": "new", "payload": "7b7d", "source": "temp"}}, "byokRecoverResult", True),
    ("byok delete", {"id": 26, "result": {}}, "byokDeleteResult", True),
    ("byok open without timestamps", {"id": 21, "result": {"plaintext": ""}}, "byokOpenResult", False),
    ("byok restore with a version only", {"id": 23, "result": {"payload": "", "version": 1}}, "byokRestoreResult", False),
    ("byok recover source elsewhere", {"id": 25, "result": {"matched": "new", "payload": "", "source": "backup"}},
     "byokRecoverResult", False),
    ("byok recover without source", {"id": 25, "result": {"matched": "new", "payload": ""}}, "byokRecoverResult", False),
    ("dbm backup", {"id": 42, "result": {"name": "backup-20261130T065100.000000000Z-0a1b2c3d", "keyId": "k"}}, "dbmBackupResult", True),
    ("dbm restore", {"id": 43, "result": {"name": "b", "matched": "k", "searched": True, "decoys": ["d"],
                                          "skipped": [], "bytes": 12}}, "dbmRestoreResult", True),
    ("dbm restore without matched", {"id": 43, "result": {"name": "b", "bytes": 12}}, "dbmRestoreResult", False),
    ("dbm import_key", {"id": 40, "result": {"key": KEY, "id": "k"}}, "dbmImportKeyResult", True),
    ("dbm export_key upper case", {"id": 41, "result": {"key": "AB" * 32}}, "dbmExportKeyResult", False),
    ("noah derive", {"id": 30, "result": {"ikm": "ab" * 32, "salt": "cd" * 16}}, "noahDeriveResult", True),
    ("noah derive without the salt", {"id": 30, "result": {"ikm": "ab" * 32}}, "noahDeriveResult", False),
    ("noah backup", {"id": 33, "result": SLOT}, "noahSlotResult", True),
    ("noah backup without created_at", {"id": 33, "result": {"backup_version": 1, "backup_size": 40}},
     "noahSlotResult", False),
    ("noah restore, the latest", {"id": 34, "result": {"payload": "00", **SLOT, "skipped": []}}, "noahRestoreResult", True),
    ("noah restore after a fallback", {"id": 34, "result": {"payload": "00", **SLOT,
                                                            "skipped": [{"backup_version": 1, "class": "wrong_key"}]}},
     "noahRestoreResult", True),
    ("noah restore skipped with an unknown class", {"id": 34, "result": {"payload": "00", **SLOT,
                                                                        "skipped": [{"backup_version": 1, "class": "bad"}]}},
     "noahRestoreResult", False),
    ("noah restore without skipped", {"id": 34, "result": {"payload": "00", **SLOT}}, "noahRestoreResult", False),
    ("noah list", {"id": 35, "result": {"backups": [{**SLOT, "backup_version": 1}, SLOT]}}, "noahListResult", True),
    ("noah list, empty", {"id": 35, "result": {"backups": []}}, "noahListResult", True),
    ("noah list as a bare array", {"id": 35, "result": [SLOT]}, None, False),
    ("noah list size negative", {"id": 35, "result": {"backups": [{**SLOT, "backup_size": -1}]}}, "noahListResult", False),
    ("noah settings", {"id": 37, "result": {"backup_enabled": True, "last_backup_at": None}}, "noahSettingsResult", True),
    ("noah settings after a backup", {"id": 37, "result": {"backup_enabled": False,
                                                           "last_backup_at": "2026-11-30T09:41:02.123456Z"}},
     "noahSettingsResult", True),
    ("noah settings without last_backup_at", {"id": 37, "result": {"backup_enabled": True}}, "noahSettingsResult", False),
]


def main() -> int:
    verbose = "-v" in sys.argv[1:]
    req_schema = json.loads((SCHEMAS / "adapter-request.schema.json").read_text())
    ans_schema = json.loads((SCHEMAS / "adapter-answer.schema.json").read_text())
    Draft202012Validator.check_schema(req_schema)
    Draft202012Validator.check_schema(ans_schema)
    req = Draft202012Validator(req_schema)
    ans = Draft202012Validator(ans_schema)

    passed = failed = 0

    def report(kind: str, desc: str, want: bool, errors: list) -> None:
        nonlocal passed, failed
        got = not errors
        if got == want:
            passed += 1
            if verbose:
                print(f"ok    {kind}: {desc}")
        else:
            failed += 1
            why = "; ".join(e.message for e in errors[:3]) if errors else "accepted"
            print(f"FAIL  {kind}: {desc}: expected {'valid' if want else 'invalid'}, got {why}")

    for desc, obj, want in REQUESTS:
        # Each example also goes through a JSON round trip, as it would on the wire.
        obj = json.loads(json.dumps(obj))
        report("request", desc, want, list(req.iter_errors(obj)))

    for desc, obj, result_def, want in ANSWERS:
        obj = json.loads(json.dumps(obj))
        errors = list(ans.iter_errors(obj))
        if not errors and result_def is not None:
            sub = Draft202012Validator({"$defs": ans_schema["$defs"], "$ref": f"#/$defs/{result_def}"})
            errors = list(sub.iter_errors(obj["result"]))
        report("answer", desc, want, errors)

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
