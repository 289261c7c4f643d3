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

const require = createRequire(import.meta.url);
const LIBRARY_VERSION = require("@metamask/browser-passworder/package.json").version;
const PROFILE = "metamask-vault";
const OPS = ["hello", "derive", "seal", "open", "rotate"];

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
    let vault;
    if (kdf === "legacy") {
      // The library writes the legacy form (no keyMetadata) when handed a bare CryptoKey
      // derived with its legacy parameters, which is how older versions always wrote.
      const s = salt ?? passworder.generateSalt();
      const wrapped = await library(() => passworder.keyFromPassword(password, s, false));
      vault = await library(() => passworder.encrypt(password, value, wrapped.key, s));
    } else {
      vault = await library(() => passworder.encrypt(password, value, undefined, salt, kdf));
    }
    return { blob: Buffer.from(vault, "utf-8").toString("hex") };
  },

  async open(req) {
    const password = getPassword(req);
    const vault = getVault(req);
    const value = await library(() => passworder.decrypt(password, vault));
    return { plaintext: Buffer.from(JSON.stringify(value), "utf-8").toString("hex") };
  },

  // The library's vault update: re-encrypt with the target parameters unless the vault
  // already has them (then it comes back unchanged).
  async rotate(req) {
    const password = getPassword(req);
    const vault = getVault(req);
    const kdf = getKdf(req);
    if (kdf === "legacy") throw new AdapterError("malformed", "an update cannot target the legacy form");
    const updated = await library(() => passworder.updateVault(vault, password, kdf));
    return { blob: Buffer.from(updated, "utf-8").toString("hex"), changed: updated !== vault };
  },
};

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
