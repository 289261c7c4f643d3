#!/usr/bin/env node
// @ts-check
/**
 * A complete minimal backproof client adapter for Node 20.
 *
 * Speaks the adapter protocol (docs/ADAPTER.md): one JSON request per line on stdin, one
 * JSON answer per line on stdout, in order; logs go to stderr. Implements blob format v1
 * (docs/FORMAT.md) and the reference client semantics against server API v1 (docs/API.md)
 * with node:crypto (AES-256-GCM, HKDF-SHA256, SHA-256), node:http, and hash-wasm
 * for Argon2id (pure WebAssembly: no native build, no node-gyp).
 *
 *   node adapter.mjs [--state-dir DIR] [--kdf m=65536,t=3,p=4] [--http-timeout SECONDS]
 *
 * Plain JavaScript with JSDoc types so it runs without a build step; `tsc --checkJs` can
 * type-check it.
 */

import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import readline from "node:readline";
import { argon2id } from "hash-wasm";

const IMPLEMENTATION = "backproof-example-node 0.1.0";
const OPS = ["hello", "derive", "seal", "open", "backup", "restore", "rotate", "recover", "delete"];
const MAX_WRITE_TRIES = 8;
// Retries of network errors and 5xx (the reference client's defaults).
const RETRY_ATTEMPTS = 5;
const RETRY_BASE_DELAY_MS = 100;
const RETRY_MAX_DELAY_MS = 2000;
const RETRY_MAX_TOTAL_MS = 15000;
/** Bodies above this size ask the server first (Expect: 100-continue). */
const EXPECT_CONTINUE_ABOVE = 1 << 20;

/** An answer with an error class from the closed list (docs/FORMAT.md). */
class AdapterError extends Error {
  /** @param {string} cls @param {string} message @param {string[]} [tried] */
  constructor(cls, message, tried) {
    super(message);
    this.cls = cls;
    /** recover's wrong_key: the candidate ids, in the order tried */
    this.tried = tried;
  }

  answer() {
    /** @type {{class: string, message: string, tried?: string[]}} */
    const err = { class: this.cls, message: this.message };
    if (this.tried) err.tried = this.tried;
    return err;
  }
}

// --- blob format v1 ------------------------------------------------------------------------

const MAGIC = Buffer.from("BKPF", "ascii");
const FIXED_HEADER_LEN = 68; // every fixed-size header field; the salt comes on top
const INFO_ENC = Buffer.from("backproof v1 aes-256-gcm key");
const INFO_CHECK = Buffer.from("backproof v1 key check");

/** @typedef {{m_cost: number, t_cost: number, p_cost: number}} Kdf */
/** @typedef {{passphrase?: string, key?: Buffer}} Secret */
/** @typedef {{kdf: Kdf | null, salt: Buffer, nonce: Buffer, keyCheck: Buffer, raw: Buffer}} Header */

/**
 * Default opening policy, checked before any derivation so a hostile blob cannot make us
 * burn memory or time.
 * @param {Kdf} k
 */
function checkPolicy(k) {
  const { m_cost: m, t_cost: t, p_cost: p } = k;
  const ok = m >= 7168 && m <= 1048576 && t >= 1 && t <= 16 && p >= 1 && p <= 16 && m >= 8 * p && m * t >= 35840;
  if (!ok) {
    throw new AdapterError(
      "kdf_params_rejected",
      `Argon2id m=${m} t=${t} p=${p} is outside the policy (7168<=m<=1048576 KiB, 1<=t<=16, 1<=p<=16, m>=8p, m*t>=35840)`,
    );
  }
}

/** @param {Buffer} ikm @param {Buffer} info */
function hkdf(ikm, info) {
  return Buffer.from(crypto.hkdfSync("sha256", ikm, Buffer.alloc(0), info, 32));
}

/** @param {string} passphrase @param {Buffer} salt @param {Kdf} kdf */
async function derive(passphrase, salt, kdf) {
  try {
    const out = await argon2id({
      password: Buffer.from(passphrase.normalize("NFC"), "utf8"),
      salt,
      iterations: kdf.t_cost,
      parallelism: kdf.p_cost,
      memorySize: kdf.m_cost,
      hashLength: 32,
      outputType: "binary",
    });
    return Buffer.from(out);
  } catch (e) {
    throw new AdapterError("kdf_params_rejected", `Argon2id refused the parameters: ${errText(e)}`);
  }
}

/** @param {Buffer} ikm @param {Buffer} prefix @param {Buffer} nonce @param {Buffer} plaintext */
function finishSeal(ikm, prefix, nonce, plaintext) {
  let header = Buffer.concat([MAGIC, prefix, nonce, hkdf(ikm, INFO_CHECK)]);
  header = Buffer.concat([header, crypto.createHash("sha256").update(header).digest().subarray(0, 8)]);
  const c = crypto.createCipheriv("aes-256-gcm", hkdf(ikm, INFO_ENC), nonce);
  c.setAAD(header);
  return Buffer.concat([header, c.update(plaintext), c.final(), c.getAuthTag()]);
}

/**
 * @param {Secret} secret @param {Buffer} plaintext @param {Kdf} kdf
 * @param {Buffer | null} [salt] @param {Buffer | null} [nonce]
 */
async function seal(secret, plaintext, kdf, salt, nonce) {
  nonce = nonce ?? crypto.randomBytes(12);
  if (nonce.length !== 12) throw new AdapterError("malformed", `nonce must be 12 bytes, got ${nonce.length}`);
  if (secret.passphrase !== undefined) {
    const n = [...secret.passphrase.normalize("NFC")].length;
    if (n < 13) {
      throw new AdapterError("passphrase_too_short", `passphrase has ${n} characters after NFC; at least 13 are required`);
    }
    checkPolicy(kdf);
    salt = salt ?? crypto.randomBytes(16);
    if (salt.length < 16 || salt.length > 32) throw new AdapterError("malformed", `salt must be 16..32 bytes, got ${salt.length}`);
    const ikm = await derive(secret.passphrase, salt, kdf);
    const prefix = Buffer.alloc(12);
    prefix[0] = 1;
    prefix[1] = 1;
    prefix.writeUInt32BE(kdf.m_cost, 2);
    prefix.writeUInt32BE(kdf.t_cost, 6);
    prefix[10] = kdf.p_cost;
    prefix[11] = salt.length;
    return finishSeal(ikm, Buffer.concat([prefix, salt]), nonce, plaintext);
  }
  const prefix = Buffer.alloc(12);
  prefix[0] = 1; // version; kdf_id 0 and all KDF fields zero for a raw key
  return finishSeal(/** @type {Buffer} */ (secret.key), prefix, nonce, plaintext);
}

/** Open steps 1-4. @param {Buffer} blob @returns {Header} */
function parseHeader(blob) {
  if (blob.length < FIXED_HEADER_LEN || !blob.subarray(0, 4).equals(MAGIC)) {
    throw new AdapterError("malformed", "not a backproof blob (too short or bad magic)");
  }
  if (blob[4] !== 1) throw new AdapterError("unsupported_version", `blob version ${blob[4]} is not supported (only 1)`);
  const kdfId = blob[5];
  const m = blob.readUInt32BE(6);
  const t = blob.readUInt32BE(10);
  const p = blob[14];
  const saltLen = blob[15];
  /** @type {Kdf | null} */
  let kdf = null;
  if (kdfId === 0) {
    if (saltLen || m || t || p) throw new AdapterError("malformed", "raw-key blob with non-zero KDF fields");
  } else if (kdfId === 1) {
    if (saltLen < 16 || saltLen > 32) throw new AdapterError("malformed", `salt_len ${saltLen} outside 16..32`);
    kdf = { m_cost: m, t_cost: t, p_cost: p };
  } else {
    throw new AdapterError("unsupported_kdf", `kdf_id ${kdfId} is not supported`);
  }
  const end = FIXED_HEADER_LEN + saltLen;
  if (blob.length < end + 16) throw new AdapterError("malformed", "blob truncated: fewer than 16 bytes after the header");
  const digest = crypto.createHash("sha256").update(blob.subarray(0, end - 8)).digest().subarray(0, 8);
  if (!digest.equals(blob.subarray(end - 8, end))) {
    throw new AdapterError("corrupted", "header digest mismatch: the blob header is damaged");
  }
  return {
    kdf,
    salt: blob.subarray(16, 16 + saltLen),
    nonce: blob.subarray(16 + saltLen, 28 + saltLen),
    keyCheck: blob.subarray(28 + saltLen, 60 + saltLen),
    raw: blob.subarray(0, end),
  };
}

/**
 * Steps 5-6: policy, then key_check; returns the AES key. One Argon2id run per passphrase,
 * nothing for raw keys: this is what makes smart recovery O(candidates).
 * @param {Header} header @param {Secret} secret
 */
async function checkKey(header, secret) {
  let ikm;
  if (header.kdf) {
    checkPolicy(header.kdf);
    if (secret.passphrase === undefined) throw new AdapterError("wrong_key", "this blob is sealed with a passphrase, not a raw key");
    ikm = await derive(secret.passphrase, header.salt, header.kdf);
  } else {
    if (secret.key === undefined) throw new AdapterError("wrong_key", "this blob is sealed with a raw key, not a passphrase");
    ikm = secret.key;
  }
  if (!crypto.timingSafeEqual(hkdf(ikm, INFO_CHECK), header.keyCheck)) {
    throw new AdapterError("wrong_key", "wrong passphrase or key (key check mismatch)");
  }
  return hkdf(ikm, INFO_ENC);
}

/** Step 7. @param {Header} header @param {Buffer} key @param {Buffer} blob */
function decrypt(header, key, blob) {
  const body = blob.subarray(header.raw.length);
  const d = crypto.createDecipheriv("aes-256-gcm", key, header.nonce);
  d.setAAD(header.raw);
  d.setAuthTag(body.subarray(body.length - 16));
  try {
    return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
  } catch {
    throw new AdapterError("corrupted", "authentication failed: the blob is damaged");
  }
}

/** @param {Secret} secret @param {Buffer} blob */
async function openBlob(secret, blob) {
  const header = parseHeader(blob);
  return decrypt(header, await checkKey(header, secret), blob);
}

// --- BackupPayload (protobuf, package backproof.v1), hand-written wire codec ---------------

class WireError extends Error {}

/** @param {Buffer} buf @param {number} pos @returns {[bigint, number]} */
function varint(buf, pos) {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new WireError("truncated varint");
    const b = buf[pos++];
    if (i === 9 && b > 1) throw new WireError("varint overflow");
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
    if (b < 0x80) return [value, pos];
  }
  throw new WireError("varint too long");
}

/** @param {Buffer} buf @param {number} pos @returns {[number, number, number]} tag, wire type, pos */
function fieldKey(buf, pos) {
  const [key, next] = varint(buf, pos);
  const tag = Number(key >> 3n);
  const wt = Number(key & 7n);
  if (key > 0xffffffffn || tag === 0 || wt > 5) throw new WireError(`invalid field key ${key}`);
  return [tag, wt, next];
}

/**
 * @param {Buffer} buf @param {number} pos @param {number} tag @param {number} wt @param {number} depth
 * @returns {[number, bigint | Buffer | null]}
 */
function fieldValue(buf, pos, tag, wt, depth) {
  if (wt === 0) {
    const [v, next] = varint(buf, pos);
    return [next, v];
  }
  if (wt === 1 || wt === 5) {
    const n = wt === 1 ? 8 : 4;
    if (pos + n > buf.length) throw new WireError("truncated fixed field");
    return [pos + n, null];
  }
  if (wt === 2) {
    const [n, next] = varint(buf, pos);
    if (n > BigInt(buf.length - next)) throw new WireError("field runs past the end");
    return [next + Number(n), buf.subarray(next, next + Number(n))];
  }
  if (wt === 3 && depth < 100) {
    // an unknown group: skip to its matching end
    for (;;) {
      const [t2, w2, next] = fieldKey(buf, pos);
      pos = next;
      if (w2 === 4) {
        if (t2 !== tag) throw new WireError("mismatched end group");
        return [pos, null];
      }
      [pos] = fieldValue(buf, pos, t2, w2, depth + 1);
    }
  }
  throw new WireError("unexpected group");
}

/**
 * Known fields of one message, in wire order; unknown fields are skipped like protobuf does.
 * @param {Buffer} buf @param {Record<number, number>} spec field number -> wire type
 * @returns {Array<[number, any]>}
 */
function fields(buf, spec) {
  /** @type {Array<[number, any]>} */
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, wt, next] = fieldKey(buf, pos);
    if (tag in spec && spec[tag] !== wt) throw new WireError(`field ${tag} has wire type ${wt}`);
    const [after, value] = fieldValue(buf, next, tag, wt, 0);
    pos = after;
    if (tag in spec) out.push([tag, value]);
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** @param {Buffer} b */
function text(b) {
  try {
    return utf8.decode(b);
  } catch {
    throw new WireError("invalid UTF-8 in a string field");
  }
}

/**
 * @typedef {{public_key: Buffer, private_key: Buffer}} Identity
 * @typedef {{uuid: string, username: string}} Contact
 * @typedef {{attachment_id: string, decryption_key: Buffer}} Profile
 * @typedef {{schema: number, identity: Identity | null, contacts: Contact[], profile: Profile | null}} Payload
 */

/** @param {Buffer} buf @returns {Payload} */
function decodePayload(buf) {
  try {
    /** @type {Payload} */
    const p = { schema: 0, identity: null, contacts: [], profile: null };
    for (const [tag, v] of fields(buf, { 1: 0, 2: 2, 3: 2, 4: 2 })) {
      if (tag === 1) {
        p.schema = Number(v & 0xffffffffn);
      } else if (tag === 2) {
        const id = p.identity ?? { public_key: Buffer.alloc(0), private_key: Buffer.alloc(0) };
        for (const [t, x] of fields(v, { 1: 2, 2: 2 })) id[t === 1 ? "public_key" : "private_key"] = Buffer.from(x);
        p.identity = id;
      } else if (tag === 3) {
        const c = { uuid: "", username: "" };
        for (const [t, x] of fields(v, { 1: 2, 2: 2 })) c[t === 1 ? "uuid" : "username"] = text(x);
        p.contacts.push(c);
      } else {
        const pr = p.profile ?? { attachment_id: "", decryption_key: Buffer.alloc(0) };
        for (const [t, x] of fields(v, { 1: 2, 2: 2 })) {
          if (t === 1) pr.attachment_id = text(x);
          else pr.decryption_key = Buffer.from(x);
        }
        p.profile = pr;
      }
    }
    return p;
  } catch (e) {
    if (e instanceof WireError) throw new AdapterError("payload_invalid", `the payload is not a BackupPayload: ${e.message}`);
    throw e;
  }
}

/** @param {number} n */
function encVarint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

/** @param {number} tag @param {Buffer} data */
function encLen(tag, data) {
  return Buffer.concat([encVarint((tag << 3) | 2), encVarint(data.length), data]);
}

/** proto3: empty strings and bytes are the default and are not written. @param {Array<[number, Buffer]>} pairs */
function encFields(pairs) {
  return Buffer.concat(pairs.filter(([, v]) => v.length > 0).map(([t, v]) => encLen(t, v)));
}

/** @param {Payload} p */
function encodePayload(p) {
  /** @type {Buffer[]} */
  const parts = [];
  if (p.schema) parts.push(encVarint(1 << 3), encVarint(p.schema));
  if (p.identity) parts.push(encLen(2, encFields([[1, p.identity.public_key], [2, p.identity.private_key]])));
  for (const c of p.contacts) {
    parts.push(encLen(3, encFields([[1, Buffer.from(c.uuid, "utf8")], [2, Buffer.from(c.username, "utf8")]])));
  }
  if (p.profile) {
    parts.push(encLen(4, encFields([[1, Buffer.from(p.profile.attachment_id, "utf8")], [2, p.profile.decryption_key]])));
  }
  return Buffer.concat(parts);
}

/**
 * The merge rule of the format: contacts united by uuid (the merging side wins on the same
 * uuid), a differing identity is not mergeable, profile: the merging side wins.
 * @param {Payload} merging @param {Payload} stored @returns {Payload}
 */
function merge(merging, stored) {
  const mi = merging.identity;
  const si = stored.identity;
  if (mi && si && !(mi.public_key.equals(si.public_key) && mi.private_key.equals(si.private_key))) {
    throw new AdapterError("identity_mismatch", "the stored backup belongs to a different identity; refusing to merge");
  }
  /** @type {Map<string, Contact>} */
  const united = new Map();
  for (const c of [...stored.contacts, ...merging.contacts]) united.set(c.uuid, c);
  // Sorted by uuid in code point order, like the reference client, so both write the same bytes.
  const byCodePoint = (/** @type {string} */ a, /** @type {string} */ b) =>
    Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
  return {
    schema: Math.max(merging.schema, stored.schema),
    identity: mi ?? si,
    contacts: [...united.keys()].sort(byCodePoint).map((u) => /** @type {Contact} */ (united.get(u))),
    profile: merging.profile ?? stored.profile,
  };
}

// --- HTTP (server API v1) ------------------------------------------------------------------

/** @typedef {{url: string, token: string}} Server */
/** @typedef {{status: number, headers: import("node:http").IncomingHttpHeaders, body: Buffer}} Response */

/** @param {unknown} e */
function errText(e) {
  if (e instanceof Error) {
    const cause = /** @type {any} */ (e).cause;
    return cause ? `${e.message} (${cause.code ?? cause.message ?? cause})` : e.message;
  }
  return String(e);
}

/** @param {Response} resp @param {string} what @param {number} [sent] */
function statusError(resp, what, sent = 0) {
  let detail = "";
  try {
    const problem = JSON.parse(resp.body.toString("utf8"));
    detail = `: ${problem.title ?? ""} ${problem.detail ?? ""}`.trimEnd();
  } catch {
    // not a problem+json body; the status says enough
  }
  const s = resp.status;
  let cls = "server_error";
  if (s === 400) cls = sent > 0 && sent < 32 ? "too_small" : "malformed";
  else if (s === 401 || s === 403) cls = "unauthorized";
  else if (s === 404) cls = "not_found";
  else if (s === 409 || s === 412 || s === 428) cls = "conflict";
  else if (s === 413) cls = "too_large";
  return new AdapterError(cls, `${what}: HTTP ${s}${detail}`);
}

/** @param {Response} resp */
function etagVersion(resp) {
  let tag = String(resp.headers.etag ?? "").trim();
  if (tag.startsWith("W/")) tag = tag.slice(2);
  const v = Number(tag.replace(/^"|"$/g, ""));
  if (tag === "" || !Number.isSafeInteger(v)) throw new AdapterError("server_error", `server sent no usable ETag (${JSON.stringify(tag)})`);
  return v;
}

/** @param {Response} resp */
function writtenVersion(resp) {
  try {
    const v = JSON.parse(resp.body.toString("utf8")).version;
    if (Number.isSafeInteger(v)) return v;
  } catch {
    // fall back to the ETag
  }
  return etagVersion(resp);
}

// --- the adapter ---------------------------------------------------------------------------

class Adapter {
  /** @param {Kdf} kdf @param {string | null} stateDir @param {number} timeoutMs */
  constructor(kdf, stateDir, timeoutMs) {
    this.kdf = kdf;
    this.stateDir = stateDir;
    this.timeoutMs = timeoutMs;
    /** @type {Record<string, number>} */
    this.memoryState = {};
  }

  // Known versions: one small JSON file replaced atomically, so a kill at any moment
  // leaves either the old or the new content.
  /** @returns {Record<string, number>} */
  loadState() {
    if (!this.stateDir) return { ...this.memoryState };
    try {
      const data = JSON.parse(fs.readFileSync(path.join(this.stateDir, "versions.json"), "utf8"));
      return data && typeof data === "object" ? data : {};
    } catch {
      return {};
    }
  }

  /** @param {Record<string, number>} state */
  storeState(state) {
    if (!this.stateDir) {
      this.memoryState = { ...state };
      return;
    }
    fs.mkdirSync(this.stateDir, { recursive: true });
    const tmp = path.join(this.stateDir, `.versions.${process.pid}.tmp`);
    const fd = fs.openSync(tmp, "w");
    fs.writeSync(fd, JSON.stringify(state));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(this.stateDir, "versions.json"));
  }

  /** The token is a credential: only its hash goes to disk. @param {Server} s */
  static serverKey(s) {
    return crypto.createHash("sha256").update(`${s.url}\n${s.token}`).digest("hex");
  }

  /** @param {Server} s */
  knownVersion(s) {
    const v = this.loadState()[Adapter.serverKey(s)];
    return Number.isSafeInteger(v) ? v : null;
  }

  /** @param {Server} s @param {number | null} version */
  remember(s, version) {
    const state = this.loadState();
    if (version === null) delete state[Adapter.serverKey(s)];
    else state[Adapter.serverKey(s)] = version;
    this.storeState(state);
  }

  /**
   * node:http rather than fetch, for `Expect: 100-continue`: a server may answer 413 from
   * Content-Length and hang up before reading the body. Writing a large body into that
   * ends in EPIPE before the answer is read, so large bodies wait for "100 Continue" (or
   * the final answer, or one second for servers that ignore Expect) before being sent.
   * @param {string} method @param {Server} s @param {Buffer | null} [body] @param {number | null} [ifMatch]
   * @returns {Promise<Response>}
   */
  httpOnce(method, s, body = null, ifMatch = null) {
    const where = `${method} ${s.url}`;
    return new Promise((resolve, reject) => {
      /** @type {URL} */
      let url;
      try {
        url = new URL(`${s.url.replace(/\/+$/, "")}/v1/backup`);
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
      } catch (e) {
        reject(new AdapterError("network", `unusable server URL ${JSON.stringify(s.url)}: ${errText(e)}`));
        return;
      }
      /** @type {Record<string, string | number>} */
      const headers = { Authorization: `Bearer ${s.token}` };
      const expectContinue = body !== null && body.length > EXPECT_CONTINUE_ABOVE;
      if (body) {
        headers["Content-Type"] = "application/octet-stream";
        headers["Content-Length"] = body.length;
        if (expectContinue) headers.Expect = "100-continue";
      }
      if (ifMatch !== null) headers["If-Match"] = `"${ifMatch}"`;
      let answered = false;
      const fail = (/** @type {unknown} */ e) => {
        if (!answered) {
          answered = true;
          reject(e instanceof AdapterError ? e : new AdapterError("network", `${where}: ${errText(e)}`));
        }
      };
      const req = (url.protocol === "https:" ? https : http).request(url, { method, headers, agent: false }, (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        const status = res.statusCode ?? 0;
        // The server answered without wanting the body: never send it.
        const unsent = !bodySent;
        bodySent = true;
        clearTimeout(expectTimer);
        const finish = () => {
          if (!answered) {
            answered = true;
            resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
          }
          if (unsent) req.destroy();
        };
        res.on("data", (c) => chunks.push(c));
        res.on("end", finish);
        // A problem body cut short adds nothing to an error status; a cut 200 body is a failure.
        res.on("error", (e) => (status >= 400 ? finish() : fail(e)));
        res.on("aborted", () => (status >= 400 ? finish() : fail(new Error("answer cut short"))));
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on("close", () => clearTimeout(timer));
      // Write errors after the server already answered (the early 413) are expected.
      req.on("error", fail);
      let bodySent = false;
      /** @type {NodeJS.Timeout | undefined} */
      let expectTimer;
      const sendBody = () => {
        if (!bodySent) {
          bodySent = true;
          clearTimeout(expectTimer);
          req.end(body ?? undefined);
        }
      };
      if (expectContinue) {
        req.on("continue", sendBody);
        req.flushHeaders();
        expectTimer = setTimeout(sendBody, 1000);
      } else {
        sendBody();
      }
    });
  }

  /**
   * One HTTP exchange, retrying network errors and 5xx like the reference client:
   * exponential backoff with equal jitter, bounded in attempts and in total time. A retried
   * write is safe: if the lost answer was a success, the retry meets 409 and the merge loop
   * (or rotate's already-rotated check) absorbs it. 4xx are never retried.
   * @param {string} method @param {Server} s @param {Buffer | null} [body] @param {number | null} [ifMatch]
   * @returns {Promise<Response>}
   */
  async http(method, s, body = null, ifMatch = null) {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const last = attempt === RETRY_ATTEMPTS - 1;
      /** @type {Response | null} */
      let resp = null;
      try {
        resp = await this.httpOnce(method, s, body, ifMatch);
        if (resp.status < 500 || last) return resp;
      } catch (e) {
        if (!(e instanceof AdapterError) || e.cls !== "network" || last) throw e;
        if (Date.now() - started >= RETRY_MAX_TOTAL_MS) throw e;
      }
      const elapsed = Date.now() - started;
      if (resp && elapsed >= RETRY_MAX_TOTAL_MS) return resp;
      const d = Math.min(RETRY_MAX_DELAY_MS, RETRY_BASE_DELAY_MS * 2 ** attempt);
      const wait = Math.min(d / 2 + Math.random() * (d / 2), RETRY_MAX_TOTAL_MS - elapsed);
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** @param {Secret} secret @param {Buffer} plaintext */
  sealOwn(secret, plaintext) {
    return seal(secret, plaintext, this.kdf);
  }

  hello() {
    return { protocol: 1, implementation: IMPLEMENTATION, profiles: ["v1"], ops: OPS };
  }

  /** @param {any} req */
  async derive(req) {
    const kdf = req.kdf != null ? getKdf(req.kdf) : this.kdf;
    return { ikm: (await derive(getStr(req, "passphrase"), getHex(req, "salt"), kdf)).toString("hex") };
  }

  /** @param {any} req */
  async seal(req) {
    const kdf = req.kdf != null ? getKdf(req.kdf) : this.kdf;
    const salt = req.salt != null ? getHex(req, "salt") : null;
    const nonce = req.nonce != null ? getHex(req, "nonce") : null;
    return { blob: (await seal(getSecret(req.secret), getHex(req, "plaintext"), kdf, salt, nonce)).toString("hex") };
  }

  /** @param {any} req */
  async open(req) {
    return { plaintext: (await openBlob(getSecret(req.secret), getHex(req, "blob"))).toString("hex") };
  }

  /** @param {any} req */
  async backup(req) {
    const server = getServer(req);
    const secret = getSecret(req.secret);
    const payload = getHex(req, "payload");
    const mine = decodePayload(payload);
    let body = payload;
    let ifMatch = this.knownVersion(server);
    for (let i = 0; i < MAX_WRITE_TRIES; i++) {
      const blob = await this.sealOwn(secret, body);
      const resp = await this.http("POST", server, blob, ifMatch);
      if (resp.status === 200 || resp.status === 201) {
        const version = writtenVersion(resp);
        this.remember(server, version);
        return { version };
      }
      if (![409, 412, 428].includes(resp.status)) throw statusError(resp, "backup", blob.length);
      // Someone else wrote since our last known version: fetch, merge, retry on top.
      const cur = await this.http("GET", server);
      if (cur.status === 404) {
        body = payload;
        ifMatch = null;
        continue;
      }
      if (cur.status !== 200) throw statusError(cur, "backup: fetching the current backup to merge");
      const stored = decodePayload(await openBlob(secret, cur.body));
      body = encodePayload(merge(mine, stored));
      ifMatch = etagVersion(cur);
    }
    throw new AdapterError("conflict", `backup: still conflicting after ${MAX_WRITE_TRIES} merge-and-retry rounds`);
  }

  /** @param {any} req */
  async restore(req) {
    const server = getServer(req);
    const secret = getSecret(req.secret);
    const resp = await this.http("GET", server);
    if (resp.status !== 200) throw statusError(resp, "restore");
    const plaintext = await openBlob(secret, resp.body);
    decodePayload(plaintext);
    return { payload: plaintext.toString("hex"), version: etagVersion(resp) };
  }

  /** @param {any} req */
  async rotate(req) {
    const server = getServer(req);
    const oldS = getSecret(req.old);
    const newS = getSecret(req.new);
    for (let i = 0; i < MAX_WRITE_TRIES; i++) {
      const cur = await this.http("GET", server);
      if (cur.status !== 200) throw statusError(cur, "rotate: fetching the current backup");
      let version = etagVersion(cur);
      let plaintext;
      try {
        plaintext = await openBlob(oldS, cur.body);
      } catch (e) {
        if (!(e instanceof AdapterError) || e.cls !== "wrong_key") throw e;
        // A rotation whose answer was lost: the stored blob already opens with the new
        // secret, so retrying it succeeds without writing anything.
        try {
          await openBlob(newS, cur.body);
        } catch {
          throw e;
        }
        this.remember(server, version);
        return { version };
      }
      decodePayload(plaintext);
      const blob = await this.sealOwn(newS, plaintext);
      const resp = await this.http("POST", server, blob, version);
      if (resp.status === 200 || resp.status === 201) {
        version = writtenVersion(resp);
        this.remember(server, version);
        return { version };
      }
      if (![409, 412, 428].includes(resp.status)) throw statusError(resp, "rotate", blob.length);
    }
    throw new AdapterError("conflict", `rotate: still conflicting after ${MAX_WRITE_TRIES} tries`);
  }

  /** @param {any} req */
  async recover(req) {
    const server = getServer(req);
    // An empty list is a recovery with nothing to try: wrong_key with tried [], as the
    // reference answers (smart-recovery.json).
    if (!Array.isArray(req.candidates)) {
      throw new AdapterError("malformed", "candidates must be a list");
    }
    const cands = req.candidates.map((/** @type {any} */ c) => {
      if (!c || typeof c.id !== "string") throw new AdapterError("malformed", "each candidate needs a string id");
      return { id: c.id, secret: getSecret(c) };
    });
    const resp = await this.http("GET", server);
    if (resp.status !== 200) throw statusError(resp, "recover");
    const header = parseHeader(resp.body);
    const tried = [];
    for (const { id, secret } of cands) {
      tried.push(id);
      let key;
      try {
        key = await checkKey(header, secret);
      } catch (e) {
        if (e instanceof AdapterError && e.cls === "wrong_key") continue;
        throw e;
      }
      const plaintext = decrypt(header, key, resp.body);
      decodePayload(plaintext);
      return { matched: id, payload: plaintext.toString("hex"), version: etagVersion(resp) };
    }
    throw new AdapterError("wrong_key", `no candidate opens this backup; tried: ${tried.join(", ")}`, tried);
  }

  /** @param {any} req */
  async delete(req) {
    const server = getServer(req);
    const resp = await this.http("DELETE", server);
    if (resp.status !== 200 && resp.status !== 204) throw statusError(resp, "delete");
    this.remember(server, null);
    return {};
  }

  /** @param {string} line */
  async handle(line) {
    let req;
    try {
      req = JSON.parse(line);
    } catch (e) {
      return { id: null, error: { class: "malformed", message: `request is not JSON: ${errText(e)}` } };
    }
    if (!req || typeof req !== "object" || Array.isArray(req)) {
      return { id: null, error: { class: "malformed", message: "request must be a JSON object" } };
    }
    const id = req.id ?? null;
    try {
      const op = req.op;
      if (typeof op !== "string" || !OPS.includes(op)) {
        throw new AdapterError("malformed", `unknown op ${JSON.stringify(op)}; supported: ${OPS.join(", ")}`);
      }
      const profile = req.profile ?? "v1";
      if (op !== "hello" && profile !== "v1") {
        throw new AdapterError("unsupported_version", `profile ${JSON.stringify(profile)} is not supported (only v1)`);
      }
      const result = await /** @type {any} */ (this)[op](req);
      return { id, result };
    } catch (e) {
      if (e instanceof AdapterError) return { id, error: e.answer() };
      // Anything unforeseen about a request is still an answer, never a crash.
      return { id, error: { class: "malformed", message: `bad request: ${errText(e)}` } };
    }
  }
}

// --- request fields ------------------------------------------------------------------------

/** @param {any} obj @param {string} name */
function getHex(obj, name) {
  const v = obj?.[name];
  // The protocol writes binary as lowercase hex, nothing else (no spaces, no uppercase).
  if (typeof v !== "string" || v.length % 2 !== 0 || !/^[0-9a-f]*$/.test(v)) {
    throw new AdapterError("malformed", `field ${JSON.stringify(name)} must be a lowercase hex string of even length`);
  }
  return Buffer.from(v, "hex");
}

/** @param {any} obj @param {string} name */
function getStr(obj, name) {
  const v = obj?.[name];
  if (typeof v !== "string") throw new AdapterError("malformed", `field ${JSON.stringify(name)} must be a string`);
  return v;
}

/** @param {any} obj @returns {Kdf} */
function getKdf(obj) {
  const k = { m_cost: obj?.m_cost, t_cost: obj?.t_cost, p_cost: obj?.p_cost };
  if (![k.m_cost, k.t_cost, k.p_cost].every((x) => Number.isInteger(x) && x >= 0)) {
    throw new AdapterError("malformed", 'kdf must be {"m_cost": KiB, "t_cost": N, "p_cost": N}');
  }
  if (k.m_cost > 0xffffffff || k.t_cost > 0xffffffff || k.p_cost > 255) {
    throw new AdapterError("kdf_params_rejected", "kdf parameters do not fit the blob header");
  }
  return k;
}

/** @param {any} obj @returns {Secret} */
function getSecret(obj) {
  if (obj && typeof obj === "object" && "passphrase" in obj && "key" in obj) {
    throw new AdapterError("malformed", 'a secret has either "passphrase" or "key", not both');
  }
  if (obj && typeof obj.passphrase === "string") return { passphrase: obj.passphrase };
  if (obj && typeof obj.key === "string") {
    const key = getHex(obj, "key");
    if (key.length !== 32) throw new AdapterError("malformed", `a raw key is 32 bytes (64 hex digits), got ${key.length} bytes`);
    return { key };
  }
  throw new AdapterError("malformed", 'a secret is {"passphrase": "..."} or {"key": "<64 hex>"}');
}

/** @param {any} req @returns {Server} */
function getServer(req) {
  const s = req.server;
  if (!s || typeof s.url !== "string" || typeof s.token !== "string") {
    throw new AdapterError("malformed", 'server must be {"url": "...", "token": "..."}');
  }
  return s;
}

// --- command line --------------------------------------------------------------------------

function usage(/** @type {string} */ msg) {
  process.stderr.write(
    `${msg}\nusage: node adapter.mjs [--state-dir DIR] [--kdf m=KiB,t=N,p=N] [--http-timeout SECONDS]\n`,
  );
  process.exit(2);
}

/** @param {string[]} argv */
function parseArgs(argv) {
  const opts = { stateDir: /** @type {string | null} */ (null), kdf: { m_cost: 65536, t_cost: 3, p_cost: 4 }, timeoutMs: 30000 };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s, 2);
    if (value === undefined && ["--state-dir", "--kdf", "--http-timeout"].includes(flag)) value = argv[++i];
    if (flag === "-h" || flag === "--help") usage("backproof example client adapter (JSON Lines on stdin/stdout)");
    if (value === undefined) usage(`unknown or incomplete argument ${argv[i]}`);
    if (flag === "--state-dir") opts.stateDir = value;
    else if (flag === "--http-timeout") opts.timeoutMs = Number(value) * 1000;
    else if (flag === "--kdf") {
      const parts = Object.fromEntries(value.split(",").map((kv) => kv.split("=")));
      const kdf = { m_cost: Number(parts.m), t_cost: Number(parts.t), p_cost: Number(parts.p) };
      if (![kdf.m_cost, kdf.t_cost, kdf.p_cost].every(Number.isInteger)) usage(`--kdf wants m=KiB,t=N,p=N, got ${value}`);
      try {
        checkPolicy(kdf);
      } catch (e) {
        usage(errText(e));
      }
      opts.kdf = kdf;
    } else usage(`unknown argument ${flag}`);
  }
  if (!(opts.timeoutMs > 0)) usage("--http-timeout must be a positive number of seconds");
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const adapter = new Adapter(opts.kdf, opts.stateDir, opts.timeoutMs);
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
// One request at a time, answered in order: the protocol is strictly sequential.
for await (const line of rl) {
  if (!line.trim()) continue;
  const answer = await adapter.handle(line);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
