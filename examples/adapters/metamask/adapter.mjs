#!/usr/bin/env node
// backproof adapter (docs/ADAPTER.md) for profile `metamask-vault`
// (docs/profiles/metamask-vault.md) around the unmodified @metamask/browser-passworder.
//
// Every byte of cryptography is the library's (which uses Node's WebCrypto): this file only
// translates the line protocol's hex and JSON into the library's calls and maps what the
// library throws onto backproof's error classes. It never checks a vault itself, so what the
// suite sees is the library's own behaviour, disagreements included.

import readline from "node:readline";
import { createRequire } from "node:module";
import * as passworder from "@metamask/browser-passworder";
import { AwsClient } from "aws4fetch";

const require = createRequire(import.meta.url);
const LIBRARY_VERSION = require("@metamask/browser-passworder/package.json").version;
const PROFILE = "metamask-vault";
const OPS = ["hello", "derive", "seal", "open", "rotate", "backup", "restore", "delete"];

/** An answer with an error class from the closed list (docs/FORMAT.md). */
class AdapterError extends Error {
  /** @param {string} cls @param {string} message */
  constructor(cls, message) {
    super(message);
    this.cls = cls;
  }
}

/**
 * What the library threw, as a class. The library throws one `Error("Incorrect password")`
 * for a wrong password, a failed tag and a plaintext that is not JSON, so that one is
 * `wrong_key_or_corrupted`; the rest are JavaScript and WebCrypto errors about the vault's
 * shape or its PBKDF2 parameters.
 * @param {unknown} e
 */
function classify(e) {
  const err = /** @type {any} */ (e);
  const what = `browser-passworder threw ${err?.name ?? typeof e}: ${err?.message ?? String(e)}`;
  if (err instanceof Error && err.message === "Incorrect password") {
    return new AdapterError(
      "wrong_key_or_corrupted",
      `${what} (the vault format has no key check: wrong password and damage look alike)`,
    );
  }
  if (err instanceof SyntaxError) return new AdapterError("malformed", `${what} (the vault is not JSON)`);
  // WebCrypto refusing the PBKDF2 parameters the vault declares (zero, negative, beyond
  // 2^32-1, not a number, missing).
  if (err?.name === "OperationError" || /Failed to normalize algorithm/.test(err?.message ?? "")) {
    return new AdapterError("kdf_params_rejected", what);
  }
  if (err instanceof TypeError) return new AdapterError("malformed", `${what} (a vault member is missing or mistyped)`);
  return new AdapterError("malformed", what);
}

/** @param {Record<string, unknown>} req @param {string} name */
function getHex(req, name) {
  const v = req[name];
  if (typeof v !== "string" || !/^(?:[0-9a-f]{2})*$/.test(v)) {
    throw new AdapterError("malformed", `field ${JSON.stringify(name)} must be a lowercase hex string of even length`);
  }
  return Buffer.from(v, "hex");
}

/** @param {Record<string, unknown>} req */
function getPassword(req) {
  const s = /** @type {any} */ (req.secret);
  if (s && typeof s === "object" && !Array.isArray(s) && typeof s.passphrase === "string" && Object.keys(s).length === 1) {
    // Passed exactly as given: the library normalizes nothing.
    return /** @type {string} */ (s.passphrase);
  }
  throw new AdapterError("malformed", 'a metamask-vault secret is {"passphrase": "..."} (the format has no raw keys)');
}

/**
 * The profile's `kdf`: absent → `undefined` (the caller decides the default),
 * `{"legacy": true}` → the legacy form, `{"iterations": N}` → keyMetadata with N.
 * @param {Record<string, unknown>} req
 */
function getKdf(req) {
  const k = /** @type {any} */ (req.kdf);
  if (k === undefined || k === null) return undefined;
  if (k && typeof k === "object" && k.legacy === true && Object.keys(k).length === 1) return "legacy";
  if (k && typeof k === "object" && Number.isInteger(k.iterations) && k.iterations >= 0 && Object.keys(k).length === 1) {
    return { algorithm: "PBKDF2", params: { iterations: k.iterations } };
  }
  throw new AdapterError("malformed", 'kdf must be {"iterations": N} or {"legacy": true}');
}

/** @param {Record<string, unknown>} req */
function getVault(req) {
  return getHex(req, "blob").toString("utf-8");
}

/** @param {Buffer} bytes */
function parsePlaintext(bytes) {
  try {
    return JSON.parse(bytes.toString("utf-8"));
  } catch {
    throw new AdapterError("malformed", "a metamask-vault plaintext is UTF-8 JSON text (the library encrypts a JSON value)");
  }
}

/** @param {() => Promise<any>} f */
async function library(f) {
  try {
    return await f();
  } catch (e) {
    throw classify(e);
  }
}

/**
 * The vault's object in an object store (docs/profiles/metamask-vault.md §10): one object per
 * user, `{prefix}users/{user}/vault.json`, written with a plain PUT that replaces it whole.
 * S3 requests are signed (SigV4) by aws4fetch; nothing of the vault's cryptography is here.
 */
class VaultObject {
  /** @param {Record<string, unknown>} req */
  constructor(req) {
    const s = /** @type {any} */ (req.store);
    const bad = (/** @type {string} */ what) => new AdapterError("malformed", `invalid store: ${what}`);
    if (!s || typeof s !== "object" || Array.isArray(s)) throw bad('a metamask-vault request carries a "store" object');
    if (s.kind !== "object-store") throw bad('kind must be "object-store"');
    if (typeof s.endpoint !== "string" || !/^https?:\/\/[^/]/.test(s.endpoint)) throw bad("endpoint must be an http(s):// URL");
    for (const k of ["bucket", "region", "access_key", "secret_key", "user"]) {
      if (typeof s[k] !== "string" || s[k] === "") throw bad(`${k} must be a non-empty string`);
    }
    if (s.user.includes("/")) throw bad("user must not contain '/'");
    if (s.prefix !== undefined && s.prefix !== null && typeof s.prefix !== "string") throw bad("prefix must be a string");
    this.key = `${s.prefix ?? ""}users/${s.user}/vault.json`;
    // Path-style: the bucket is the first path segment. Each segment is percent-encoded as
    // S3 wants it; `/` separates segments.
    const path = [s.bucket, ...this.key.split("/")].map(encodeURIComponent).join("/");
    this.url = `${s.endpoint.replace(/\/+$/, "")}/${path}`;
    // Two retries with backoff inside the call (5xx, 429, no answer); then the class.
    this.aws = new AwsClient({
      accessKeyId: s.access_key,
      secretAccessKey: s.secret_key,
      region: s.region,
      service: "s3",
      retries: 2,
      initRetryMs: 100,
    });
  }

  /** @param {string} method @param {RequestInit} [init] */
  async send(method, init = {}) {
    let res;
    try {
      res = await this.aws.fetch(this.url, { method, ...init });
    } catch (e) {
      throw new AdapterError("network", `could not reach the object store (${method} ${this.key}: ${String(e)})`);
    }
    return res;
  }

  /** @param {string} method @param {Response} res */
  async fail(method, res) {
    const body = (await res.text().catch(() => "")).slice(0, 200);
    const cls = res.status === 401 || res.status === 403 ? "unauthorized" : "server_error";
    return new AdapterError(cls, `the object store answered ${method} ${this.key} with HTTP ${res.status}: ${body}`);
  }

  /** The stored vault's text, or `undefined` when there is none. */
  async get() {
    const res = await this.send("GET");
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw await this.fail("GET", res);
    return Buffer.from(await res.arrayBuffer()).toString("utf-8");
  }

  async getRequired() {
    const vault = await this.get();
    if (vault === undefined) throw new AdapterError("not_found", `no vault at ${this.key}`);
    return vault;
  }

  /** @param {string} vault */
  async put(vault) {
    const res = await this.send("PUT", { body: vault, headers: { "content-type": "application/json" } });
    if (!res.ok) throw await this.fail("PUT", res);
    await res.body?.cancel();
  }

  async remove() {
    const res = await this.send("DELETE");
    if (!res.ok) throw await this.fail("DELETE", res);
    await res.body?.cancel();
  }
}

/**
 * A new vault of `value` with the library: the legacy form (bare key from keyFromPassword,
 * as older releases wrote) or keyMetadata with the given or the library's default iterations.
 * @param {string} password @param {unknown} value @param {ReturnType<typeof getKdf>} kdf @param {string} [salt]
 */
async function encryptVault(password, value, kdf, salt) {
  if (kdf === "legacy") {
    const s = salt ?? passworder.generateSalt();
    const wrapped = await library(() => passworder.keyFromPassword(password, s, false));
    return library(() => passworder.encrypt(password, value, wrapped.key, s));
  }
  return library(() => passworder.encrypt(password, value, undefined, salt, kdf));
}

/** @param {Record<string, unknown>} req @param {string} name */
function getPassphrase(req, name) {
  return getPassword({ secret: req[name] });
}

/** @type {Record<string, (req: Record<string, unknown>) => Promise<object>>} */
const handlers = {
  async hello() {
    return {
      protocol: 1,
      implementation: `@metamask/browser-passworder ${LIBRARY_VERSION} (backproof adapter 0.1.0)`,
      profiles: [PROFILE],
      ops: OPS,
    };
  },

  // The 32-byte AES key, read back from the library through its JWK export.
  async derive(req) {
    if (typeof req.passphrase !== "string") throw new AdapterError("malformed", "passphrase must be a string");
    const salt = getHex(req, "salt").toString("base64");
    const kdf = getKdf(req);
    const opts = kdf === undefined || kdf === "legacy" ? undefined : kdf;
    const key = await library(() => passworder.keyFromPassword(/** @type {string} */ (req.passphrase), salt, true, opts));
    const exported = JSON.parse(await library(() => passworder.exportKey(key)));
    const jwk = exported.key ?? exported;
    return { ikm: Buffer.from(jwk.k, "base64url").toString("hex") };
  },

  async seal(req) {
    const password = getPassword(req);
    const value = parsePlaintext(getHex(req, "plaintext"));
    if (req.nonce !== undefined && req.nonce !== null) {
      throw new AdapterError(
        "malformed",
        "browser-passworder draws its IV itself (crypto.getRandomValues) and takes no fixed one; send no nonce",
      );
    }
    const salt = req.salt === undefined || req.salt === null ? undefined : getHex(req, "salt").toString("base64");
    const kdf = getKdf(req);
    const vault = await encryptVault(password, value, kdf, salt);
    return { blob: Buffer.from(vault, "utf-8").toString("hex") };
  },

  async open(req) {
    const password = getPassword(req);
    const vault = getVault(req);
    const value = await library(() => passworder.decrypt(password, vault));
    return { plaintext: Buffer.from(JSON.stringify(value), "utf-8").toString("hex") };
  },

  // The library's vault update: re-encrypt with the target parameters unless the vault
  // already has them (then it comes back unchanged). With a `store`, the stored vault's
  // update (§10).
  async rotate(req) {
    if (req.store !== undefined) return rotateStored(req);
    const password = getPassword(req);
    const vault = getVault(req);
    const kdf = getKdf(req);
    if (kdf === "legacy") throw new AdapterError("malformed", "an update cannot target the legacy form");
    const updated = await library(() => passworder.updateVault(vault, password, kdf));
    return { blob: Buffer.from(updated, "utf-8").toString("hex"), changed: updated !== vault };
  },

  // A stored vault that exists must open with the password before it is replaced: a
  // mistyped password must not destroy the vault.
  async backup(req) {
    const password = getPassword(req);
    const value = parsePlaintext(getHex(req, "payload"));
    const kdf = getKdf(req);
    const store = new VaultObject(req);
    const existing = await store.get();
    if (existing !== undefined) await library(() => passworder.decrypt(password, existing));
    await store.put(await encryptVault(password, value, kdf));
    return {};
  },

  async restore(req) {
    const password = getPassword(req);
    const store = new VaultObject(req);
    const vault = await store.getRequired();
    const value = await library(() => passworder.decrypt(password, vault));
    return { payload: Buffer.from(JSON.stringify(value), "utf-8").toString("hex") };
  },

  async delete(req) {
    const store = new VaultObject(req);
    await store.getRequired();
    await store.remove();
    return {};
  },
};

/**
 * The stored vault's update (§10): GET, then one PUT of the new vault over the old one, so
 * a crash at any point leaves the old vault or the new one. The same password is the
 * library's updateVault (a vault already at the target is not written again); another
 * password is the library's decrypt and encrypt, as a password change does, and a vault
 * that already opens with the new password only gets the update, so a repeated change
 * succeeds.
 * @param {Record<string, unknown>} req
 */
async function rotateStored(req) {
  const old = getPassphrase(req, "old");
  const next = getPassphrase(req, "new");
  const kdf = getKdf(req);
  if (kdf === "legacy") throw new AdapterError("malformed", "an update cannot target the legacy form");
  const store = new VaultObject(req);
  const vault = await store.getRequired();
  let updated;
  if (old === next) {
    updated = await library(() => passworder.updateVault(vault, old, kdf));
  } else {
    let value;
    try {
      value = await library(() => passworder.decrypt(old, vault));
    } catch (e) {
      // A change whose answer was lost has happened already: the vault opens with the new
      // password, and the repeated call only completes the update, if anything.
      if (!(e instanceof AdapterError) || e.cls !== "wrong_key_or_corrupted") throw e;
      const opensWithNew = await passworder.decrypt(next, vault).then(() => true, () => false);
      if (!opensWithNew) throw e;
      updated = await library(() => passworder.updateVault(vault, next, kdf));
    }
    if (updated === undefined) updated = await encryptVault(next, value, kdf);
  }
  const changed = updated !== vault;
  if (changed) await store.put(updated);
  return { changed };
}

/** @param {string} line */
async function handle(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    return { id: null, error: { class: "malformed", message: "the request line is not JSON" } };
  }
  if (!req || typeof req !== "object" || Array.isArray(req)) {
    return { id: null, error: { class: "malformed", message: "the request is not a JSON object" } };
  }
  const id = Number.isSafeInteger(req.id) && req.id >= 0 ? req.id : null;
  if (id === null) return { id: null, error: { class: "malformed", message: "id must be a non-negative integer" } };
  try {
    if (typeof req.op !== "string") throw new AdapterError("malformed", "op must be a string");
    const handler = Object.hasOwn(handlers, req.op) ? handlers[req.op] : undefined;
    if (!handler) throw new AdapterError("malformed", `unknown op ${JSON.stringify(req.op)}; known: ${OPS.join(", ")}`);
    if (req.op !== "hello" && req.profile !== PROFILE) {
      throw new AdapterError(
        "unsupported_version",
        `this adapter speaks only profile ${JSON.stringify(PROFILE)}, not ${JSON.stringify(req.profile ?? "v1")}`,
      );
    }
    return { id, result: await handler(req) };
  } catch (e) {
    if (e instanceof AdapterError) return { id, error: { class: e.cls, message: e.message } };
    return { id, error: { class: "malformed", message: `unexpected: ${String(e)}` } };
  }
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
// One request at a time, answered in order: the protocol is strictly sequential.
for await (const line of rl) {
  if (!line.trim()) continue;
  process.stdout.write(`${JSON.stringify(await handle(line))}\n`);
}
