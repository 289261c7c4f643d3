#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (docs/FUZZING.md) into fuzz/corpus/<target>/.

Seeds come from the committed vectors, scenarios and reports plus a few hand-written lines,
so nothing large is committed: run this before fuzzing (ci/fuzz-smoke.sh does). Existing
files are kept, so a corpus grown by earlier runs survives.
"""
import base64
import hashlib
import hmac
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha256(data).hexdigest()[:16])).write_bytes(data)


def tests(path):
    doc = json.loads((ROOT / path).read_text())
    for g in doc["testGroups"]:
        yield from g["tests"]


for t in tests("vectors/blob-v1.json"):
    if "blob" in t:
        put("blob_open", bytes.fromhex(t["blob"]))
    if "plaintext" in t:
        put("payload_decode", bytes.fromhex(t["plaintext"]))
for t in tests("vectors/byok-json-v1/byok-json-v1.json"):
    if "blob" in t:
        put("byok_json_open", bytes.fromhex(t["blob"]))

for t in tests("vectors/metamask-vault/metamask-vault.json"):
    if "blob" in t:
        put("metamask_vault_open", bytes.fromhex(t["blob"]))

for t in tests("vectors/noah-v0/noah-v0.json"):
    if "body" in t:
        put("noah_open", bytes.fromhex(t["body"]))

# dbm_stream_open: the first byte picks the input's kind (fuzz_targets/dbm_stream_open.rs):
# 0 a sidecar, 1/2/3 a plain, gzip or brotli stream that the target seals itself.
import gzip
try:
    import brotli
except ImportError:  # the seeds are a head start, not a requirement
    brotli = None
for t in tests("vectors/dbm-stream-v1/dbm-stream-v1.json"):
    if "sidecar" in t:
        put("dbm_stream_open", b"\x00" + bytes.fromhex(t["sidecar"]))
    if t.get("plaintext"):
        dump = bytes.fromhex(t["plaintext"])[:4096]
        put("dbm_stream_open", b"\x01" + dump)
        put("dbm_stream_open", b"\x02" + gzip.compress(dump))
        if brotli:
            put("dbm_stream_open", b"\x03" + brotli.compress(dump))
put("dbm_stream_open", b"\x02" + gzip.compress(bytes(1 << 20)))  # a bomb past the cap

KEY = "2b31c713d19e3233d4c57190a14fe08929dbe2135fef9a748d70de39bc363225"
for line in [
    '{"id":1,"op":"hello"}',
    '{"id":2,"op":"derive","passphrase":"correct horse battery staple","salt":"00112233445566778899aabbccddeeff","kdf":{"m":7168,"t":5,"p":1}}',
    '{"id":3,"op":"seal","profile":"v1","secret":{"key":"%s"},"plaintext":"0801","nonce":"000102030405060708090a0b"}' % KEY,
    '{"id":4,"op":"open","profile":"v1","secret":{"passphrase":"correct horse battery staple"},"blob":"424b5046"}',
    '{"id":5,"op":"backup","server":{"url":"http://127.0.0.1:1","token":"t"},"secret":{"key":"%s"},"payload":{"schema":1,"contacts":[{"uuid":"u","username":"n"}]}}' % KEY,
    '{"id":6,"op":"recover","server":{"url":"http://127.0.0.1:1","token":"t"},"candidates":[{"id":"a","passphrase":"correct horse battery staple"},{"id":"b","key":"%s"}]}' % KEY,
    '{"id":7,"op":"rotate","server":{"url":"http://127.0.0.1:1","token":"t"},"old":{"passphrase":"a"},"new":{"key":"%s"}}' % KEY,
    '{"id":8,"op":"restore","server":{"url":"http://127.0.0.1:1","token":"t"},"secret":{"passphrase":"p"}}',
    '{"id":9,"op":"delete","server":{"url":"http://127.0.0.1:1","token":"t"}}',
    '{"op":"hello"}\n\n{"id":-1}\n[1,2]\n\xff',
]:
    put("adapter_request", line)

for line in [
    '{"id":7,"result":{"protocol":1,"name":"reference","version":"0.1.0","profiles":["v1"],"ops":["hello","seal"]}}',
    '{"id":7,"result":{"blob":"424b5046"}}',
    '{"id":7,"result":{"plaintext":"0801"}}',
    '{"id":7,"result":{"version":3}}',
    '{"id":7,"result":{"version":3,"plaintext":"0801","payload":{"schema":1}}}',
    '{"id":7,"result":{"matched":"a","version":2,"plaintext":"0801"}}',
    '{"id":7,"error":{"class":"wrong_key","message":"no","tried":["a","b"]}}',
    '{"id":8,"result":{},"error":{}}\n{"id":null,"error":{"class":"malformed","message":"m"}}',
]:
    put("adapter_answer", line)

for p in sorted((ROOT / "scenarios").rglob("*.toml")):
    put("scenario_toml", p.read_bytes())

put("deviations_toml", '[[deviation]]\ncase = "conflict/two-devices-merge"\nreason = "our gateway rewrites 409"\n')
put("deviations_toml", '[[deviation]]\ncase = "a"\nreason = "b"\n\n[[deviation]]\ncase = "c"\nreason = """multi\nline"""\n')
put("deviations_toml", "")

for p in ["reports/reference.snap.json", "reports/reference.json"]:
    f = ROOT / p
    if f.is_file() and f.stat().st_size > 0:
        put("report_json", f.read_bytes())

# Tokens minted as the server does (harness/head/src/token.rs) with the target's secret.
def token(user):
    mac = hmac.new(b"fuzz-secret", user.encode(), hashlib.sha256).digest()
    return "bpt1.%s.%s" % (user, base64.urlsafe_b64encode(mac).decode().rstrip("="))


for h in ['"1"', "1", "*", ' "42" ', 'W/"1"', '"1", "2"', '""', '"999999999999999999"',
          "Bearer " + token("alice"), "bearer  " + token("bob_2-x") + " ", "Basic abc"]:
    put("server_headers", h)

print("seeded", ", ".join(sorted(d.name + "=" + str(len(list(d.iterdir())))
                               for d in CORPUS.iterdir())), file=sys.stderr)
