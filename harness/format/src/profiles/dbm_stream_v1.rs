//! Profile `dbm-stream-v1` (docs/profiles/dbm-stream-v1.md is normative): a database dump,
//! compressed (gzip, brotli or not at all), sealed with AES-256-GCM as one stream. The
//! artifact holds the ciphertext alone; the IV, the tag, the compression and the id of the
//! key's profile sit in a JSON sidecar.
//!
//! The GCM here is built from its parts (AES, CTR with a 32-bit counter, GHASH) because the
//! one-shot `aes-gcm` API needs the whole message in memory. Opening makes two passes over
//! a seekable artifact: the first only computes the tag, the second decrypts and
//! decompresses, so not one byte of plaintext leaves the codec before the tag has verified.
//! The tests check every byte of it against `aes-gcm` for both IV lengths.
//!
//! Pure like the rest of the crate: keys and IVs come in as arguments; the only I/O is on
//! the `Read`/`Write` values the caller passes.

use std::io::{self, Read, Seek, SeekFrom, Write};

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipher, StreamCipherCore};
use ctr::CtrCore;
use ctr::cipher::StreamCipherCoreWrapper;
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use serde_json::{Map, Value, json};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::ErrorClass;

/// The profile's name on the adapter protocol and in case ids.
pub const NAME: &str = "dbm-stream-v1";
/// A master key: 32 random bytes, exported as 64 hex digits.
pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;
/// The IV lengths a sidecar may carry: 12 bytes (J0 = IV ‖ 0³¹ ‖ 1) and 16 bytes (J0 from
/// GHASH), both of which the design's `createCipheriv` accepts.
pub const IV_LENS: [usize; 2] = [12, 16];
/// How much of the artifact is read, decrypted and hashed at a time.
pub const CHUNK: usize = 64 * 1024;
/// The most plaintext one GCM message may hold (NIST SP 800-38D): 2^32 − 2 blocks.
pub const MAX_MESSAGE_LEN: u64 = ((1 << 32) - 2) * 16;
/// Brotli quality and window of the reference's seal: quality 5 with a 4 MiB window keeps
/// the compressor's memory a few tens of MiB (quality 11, the library default, needs far
/// more for no gain a restore test could see). Any quality and window open.
pub const BROTLI_QUALITY: u32 = 5;
pub const BROTLI_LGWIN: u32 = 22;

/// Why an artifact, a sidecar or an input was refused. Each variant belongs to exactly one
/// [`ErrorClass`]; the message tells a person what they can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "not a dbm-stream-v1 sidecar: {0}; check that the whole .meta.json was downloaded and belongs to this artifact"
    )]
    Malformed(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error(
        "the artifact does not verify under this key ({0}): the artifact or its sidecar was changed, or the key is not the one it was sealed with; restore an older backup or try the exported key"
    )]
    TagMismatch(&'static str),
    #[error(
        "none of the {tried} local keys verifies this artifact; import the key it was sealed with (64 hex digits) and restore again"
    )]
    NoKeyMatches { tried: usize },
    #[error(
        "the artifact verified but its content is not a valid {compression} stream ({reason}); the writer produced a broken backup: report it to its maintainers"
    )]
    PayloadInvalid {
        compression: &'static str,
        reason: String,
    },
    #[error(
        "the restored dump would exceed the limit of {limit} bytes; the artifact may be a decompression bomb, or raise the limit if the dump is really that large"
    )]
    TooLarge { limit: u64 },
    #[error("reading the artifact or writing the dump failed: {0}; check the local disk")]
    Io(String),
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Malformed(_) | Error::InvalidInput(_) => ErrorClass::Malformed,
            Error::TagMismatch(_) => ErrorClass::Corrupted,
            Error::NoKeyMatches { .. } => ErrorClass::WrongKey,
            Error::PayloadInvalid { .. } => ErrorClass::PayloadInvalid,
            Error::TooLarge { .. } => ErrorClass::TooLarge,
            // The list has no class for the local machine; `network` is what the reference
            // adapters answer for their own disk (docs/ADAPTER.md §5).
            Error::Io(_) => ErrorClass::Network,
        }
    }
}

fn io_error(e: io::Error) -> Error {
    Error::Io(e.to_string())
}

/// How the dump was compressed before it was encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    Gzip,
    Brotli,
    None,
}

impl Compression {
    pub const ALL: [Compression; 3] = [Compression::Gzip, Compression::Brotli, Compression::None];

    /// The sidecar's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "GZIP",
            Compression::Brotli => "BROTLI",
            Compression::None => "NONE",
        }
    }

    fn parse(s: &str) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A parsed `.meta.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    /// The id of the key's profile on the machine that sealed it; after an import the same
    /// key has another id, which is what smart recovery is for.
    pub profile_id: String,
    /// 12 or 16 bytes.
    pub iv: Vec<u8>,
    pub auth_tag: [u8; TAG_LEN],
    pub compression: Compression,
    /// Informational (the database's version); absent is allowed.
    pub engine_version: Option<String>,
}

impl Sidecar {
    /// The sidecar as the design writes it.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "encryption": {
                "enabled": true,
                "profileId": self.profile_id,
                "iv": hex::encode(&self.iv),
                "authTag": hex::encode(self.auth_tag),
            },
            "compression": self.compression.as_str(),
        });
        if let Some(e) = &self.engine_version {
            v["engineVersion"] = json!(e);
        }
        v
    }
}

fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Value, Error> {
    obj.get(name)
        .ok_or_else(|| Error::Malformed(format!("member {name:?} is missing")))
}

fn string_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, Error> {
    member(obj, name)?
        .as_str()
        .ok_or_else(|| Error::Malformed(format!("member {name:?} is not a string")))
}

fn hex_member(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Error> {
    hex::decode(string_member(obj, name)?)
        .map_err(|e| Error::Malformed(format!("member {name:?} is not hex: {e}")))
}

/// Parses and checks a sidecar (docs/profiles/dbm-stream-v1.md §2). Every failure is
/// `malformed`: without a well-formed sidecar there is nothing to try a key against.
pub fn parse_sidecar(bytes: &[u8]) -> Result<Sidecar, Error> {
    let v: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::Malformed(format!("not UTF-8 JSON: {e}")))?;
    let top = v
        .as_object()
        .ok_or_else(|| Error::Malformed("not a JSON object".into()))?;
    let enc = member(top, "encryption")?
        .as_object()
        .ok_or_else(|| Error::Malformed("member \"encryption\" is not an object".into()))?;
    if member(enc, "enabled")? != &Value::Bool(true) {
        return Err(Error::Malformed(
            "encryption.enabled is not true: this sidecar describes a plaintext backup".into(),
        ));
    }
    let profile_id = string_member(enc, "profileId")?.to_owned();
    let iv = hex_member(enc, "iv")?;
    if !IV_LENS.contains(&iv.len()) {
        return Err(Error::Malformed(format!(
            "the iv is {} bytes; 12 or 16 are accepted",
            iv.len()
        )));
    }
    let auth_tag: [u8; TAG_LEN] =
        hex_member(enc, "authTag")?
            .try_into()
            .map_err(|t: Vec<u8>| {
                Error::Malformed(format!("the authTag is {} bytes, not {TAG_LEN}", t.len()))
            })?;
    let name = string_member(top, "compression")?;
    let compression = Compression::parse(name).ok_or_else(|| {
        Error::Malformed(format!(
            "compression {name:?} is none of \"GZIP\", \"BROTLI\", \"NONE\""
        ))
    })?;
    let engine_version = match top.get("engineVersion") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(Error::Malformed(
                "member \"engineVersion\" is not a string".into(),
            ));
        }
    };
    Ok(Sidecar {
        profile_id,
        iv,
        auth_tag,
        compression,
        engine_version,
    })
}

/// A master key as the design shows it for copying: 64 lower-case hex digits.
pub fn export_key(key: &[u8; KEY_LEN]) -> Zeroizing<String> {
    Zeroizing::new(hex::encode(key))
}

/// A pasted master key: exactly 64 hex digits of either case, nothing around them.
pub fn import_key(text: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    if text.len() != 2 * KEY_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Malformed(format!(
            "a master key is exactly 64 hex digits; this one has {} characters{}",
            text.chars().count(),
            if text.bytes().all(|b| b.is_ascii_hexdigit()) {
                ""
            } else {
                " and characters that are not hex digits"
            }
        )));
    }
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    hex::decode_to_slice(text, key.as_mut_slice())
        .map_err(|e| Error::Malformed(format!("not hex: {e}")))?;
    Ok(key)
}

type Ctr = StreamCipherCoreWrapper<CtrCore<Aes256, ctr::flavors::Ctr32BE>>;

/// The per-message state of GCM: the keystream (positioned at inc32(J0)) and the tag mask
/// E_K(J0), with GHASH keyed by H = E_K(0¹²⁸).
struct Gcm {
    ctr: Ctr,
    ghash: GHash,
    mask: ghash::Block,
}

impl Gcm {
    fn new(key: &[u8; KEY_LEN], iv: &[u8]) -> Result<Gcm, Error> {
        if !IV_LENS.contains(&iv.len()) {
            return Err(Error::InvalidInput(format!(
                "the iv is {} bytes; 12 or 16 are accepted",
                iv.len()
            )));
        }
        let cipher = Aes256::new(&(*key).into());
        let mut h = ghash::Key::default();
        cipher.encrypt_block(&mut h);
        let ghash = GHash::new(&h);
        let j0 = if iv.len() == 12 {
            let mut j0 = ghash::Block::default();
            j0[..12].copy_from_slice(iv);
            j0[15] = 1;
            j0
        } else {
            let mut g = ghash.clone();
            g.update_padded(iv);
            let mut len = ghash::Block::default();
            len[8..].copy_from_slice(&(iv.len() as u64 * 8).to_be_bytes());
            g.update(&[len]);
            g.finalize()
        };
        let mut core = CtrCore::<Aes256, ctr::flavors::Ctr32BE>::inner_iv_init(cipher, &j0);
        let mut mask = ghash::Block::default();
        core.write_keystream_block(&mut mask);
        Ok(Gcm {
            ctr: StreamCipherCoreWrapper::from_core(core),
            ghash,
            mask,
        })
    }

    fn tagger(&self) -> Tagger {
        Tagger {
            ghash: self.ghash.clone(),
            pending: [0; 16],
            pending_len: 0,
            total: 0,
            mask: self.mask,
        }
    }

    /// XORs the next keystream bytes into `buf`; refuses past GCM's message limit.
    fn apply(&mut self, buf: &mut [u8]) -> Result<(), Error> {
        self.ctr
            .try_apply_keystream(buf)
            .map_err(|_| Error::TooLarge {
                limit: MAX_MESSAGE_LEN,
            })
    }
}

/// GHASH over a ciphertext that arrives in pieces of any length.
struct Tagger {
    ghash: GHash,
    pending: [u8; 16],
    pending_len: usize,
    total: u64,
    mask: ghash::Block,
}

impl Tagger {
    fn update(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        if self.pending_len > 0 {
            let take = (16 - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 16 {
                return;
            }
            self.ghash.update_padded(&self.pending);
            self.pending_len = 0;
        }
        let whole = data.len() - data.len() % 16;
        // A multiple of 16 bytes gets no padding: update_padded only hashes whole blocks.
        self.ghash.update_padded(&data[..whole]);
        let rest = &data[whole..];
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn finish(mut self) -> [u8; TAG_LEN] {
        self.ghash.update_padded(&self.pending[..self.pending_len]);
        let mut len = ghash::Block::default();
        // No associated data: the first 8 bytes (its bit length) stay zero.
        len[8..].copy_from_slice(&(self.total * 8).to_be_bytes());
        self.ghash.update(&[len]);
        let mut tag: [u8; TAG_LEN] = self.ghash.finalize().into();
        for (t, m) in tag.iter_mut().zip(self.mask.iter()) {
            *t ^= m;
        }
        tag
    }
}

/// Encrypts what is written through it and hashes the ciphertext on its way out.
struct EncryptWriter<W> {
    gcm: Gcm,
    tagger: Tagger,
    out: W,
    buf: Vec<u8>,
    /// The first failure, kept because brotli's `into_inner` swallows the error of its
    /// last write.
    failed: Option<Error>,
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if let Some(e) = &self.failed {
            return Err(io::Error::other(e.to_string()));
        }
        let n = data.len().min(CHUNK);
        self.buf.clear();
        self.buf.extend_from_slice(&data[..n]);
        let mut buf = std::mem::take(&mut self.buf);
        let res = self.gcm.apply(&mut buf).and_then(|()| {
            self.tagger.update(&buf);
            self.out.write_all(&buf).map_err(io_error)
        });
        self.buf = buf;
        match res {
            Ok(()) => Ok(n),
            Err(e) => {
                let msg = e.to_string();
                self.failed = Some(e);
                Err(io::Error::other(msg))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Streams `plaintext` through the compression and AES-256-GCM into `out` and returns the
/// sidecar that goes with it. `iv` must be fresh random bytes for every seal (12 or 16).
/// Memory: a few 64 KiB buffers plus the compressor (gzip ≈ 300 KiB, brotli at
/// [`BROTLI_QUALITY`]/[`BROTLI_LGWIN`] a few tens of MiB), whatever the dump's size.
pub fn seal<R: Read, W: Write>(
    key: &[u8; KEY_LEN],
    iv: &[u8],
    compression: Compression,
    profile_id: &str,
    engine_version: Option<&str>,
    mut plaintext: R,
    out: W,
) -> Result<Sidecar, Error> {
    let gcm = Gcm::new(key, iv)?;
    let mut enc = EncryptWriter {
        tagger: gcm.tagger(),
        gcm,
        out,
        buf: Vec::with_capacity(CHUNK),
        failed: None,
    };
    let copied = match compression {
        Compression::None => io::copy(&mut plaintext, &mut enc).map(|_| ()),
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(&mut enc, flate2::Compression::default());
            io::copy(&mut plaintext, &mut gz).and_then(|_| gz.try_finish())
        }
        Compression::Brotli => {
            let mut br =
                brotli::CompressorWriter::new(&mut enc, CHUNK, BROTLI_QUALITY, BROTLI_LGWIN);
            let r = io::copy(&mut plaintext, &mut br).map(|_| ());
            // Dropping finishes the stream; a failure of that last write lands in `failed`.
            drop(br);
            r
        }
    };
    if let Some(e) = enc.failed.take() {
        return Err(e);
    }
    copied.map_err(io_error)?;
    enc.out.flush().map_err(io_error)?;
    Ok(Sidecar {
        profile_id: profile_id.to_owned(),
        iv: iv.to_vec(),
        auth_tag: enc.tagger.finish(),
        compression,
        engine_version: engine_version.map(str::to_owned),
    })
}

/// Reads until `buf` is full or the source ends; returns how many bytes it holds.
fn fill<R: Read>(src: &mut R, buf: &mut [u8]) -> Result<usize, Error> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(n)
}

/// The tag of `artifact` from where it stands to its end, under `key` and `iv`.
fn tag_of<R: Read>(key: &[u8; KEY_LEN], iv: &[u8], artifact: &mut R) -> Result<[u8; 16], Error> {
    let gcm = Gcm::new(key, iv)?;
    let mut tagger = gcm.tagger();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = fill(artifact, &mut buf)?;
        tagger.update(&buf[..n]);
        if n < CHUNK {
            return Ok(tagger.finish());
        }
    }
}

fn rewind<R: Seek>(artifact: &mut R) -> Result<(), Error> {
    artifact
        .seek(SeekFrom::Start(0))
        .map(|_| ())
        .map_err(io_error)
}

/// Pass 1 alone: whether the whole artifact verifies under `key` and the sidecar's IV and
/// tag. Reads the artifact from its start; releases nothing.
pub fn verify<R: Read + Seek>(
    key: &[u8; KEY_LEN],
    sidecar: &Sidecar,
    artifact: &mut R,
) -> Result<(), Error> {
    rewind(artifact)?;
    let tag = tag_of(key, &sidecar.iv, artifact)?;
    if bool::from(tag.ct_eq(&sidecar.auth_tag)) {
        Ok(())
    } else {
        Err(Error::TagMismatch("the GCM tag does not match"))
    }
}

/// Counts what reaches the dump and stops at the limit.
struct Capped<W> {
    out: W,
    written: u64,
    limit: u64,
    exceeded: bool,
}

impl<W: Write> Write for Capped<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.written + data.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("output limit reached"));
        }
        let n = self.out.write(data)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The decompressor of pass 2, writing into the capped dump.
enum Inflate<'a, W: Write> {
    None(&'a mut Capped<W>),
    Gzip(Box<flate2::write::MultiGzDecoder<&'a mut Capped<W>>>),
    Brotli(Box<brotli::DecompressorWriter<&'a mut Capped<W>>>),
}

impl<W: Write> Inflate<'_, W> {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Inflate::None(w) => w.write_all(data),
            Inflate::Gzip(w) => w.write_all(data),
            Inflate::Brotli(w) => w.write_all(data),
        }
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Inflate::None(w) => w.flush(),
            Inflate::Gzip(w) => w.finish().and_then(|w| w.flush()),
            Inflate::Brotli(mut w) => w.close().and_then(|()| w.flush()),
        }
    }
}

/// Verifies the artifact, then streams its plaintext into `out`: the dump, decompressed,
/// at most `max_output` bytes. Returns the number of bytes written.
///
/// Nothing is written to `out` unless the whole artifact's tag has verified (pass 1). Pass 2
/// decrypts from the start and computes the tag again; if the artifact changed between the
/// passes the answer is `corrupted` and what was written must be discarded, as after any
/// error: the caller writes into a temporary file and renames it only on `Ok`.
///
/// Memory: two 64 KiB buffers and the decompressor's window (gzip 32 KiB; brotli at most
/// 16 MiB, the largest window a standard brotli stream can declare), whatever the
/// artifact's or the dump's size. A decompression bomb ends at `max_output` with
/// `too_large`.
pub fn open<R: Read + Seek, W: Write>(
    key: &[u8; KEY_LEN],
    sidecar: &Sidecar,
    artifact: &mut R,
    out: W,
    max_output: u64,
) -> Result<u64, Error> {
    verify(key, sidecar, artifact)?;
    rewind(artifact)?;
    let mut gcm = Gcm::new(key, &sidecar.iv)?;
    let mut tagger = gcm.tagger();
    let mut capped = Capped {
        out,
        written: 0,
        limit: max_output,
        exceeded: false,
    };
    let compression = sidecar.compression;
    let result = {
        let mut inflate = match compression {
            Compression::None => Inflate::None(&mut capped),
            Compression::Gzip => {
                Inflate::Gzip(Box::new(flate2::write::MultiGzDecoder::new(&mut capped)))
            }
            Compression::Brotli => Inflate::Brotli(Box::new(brotli::DecompressorWriter::new(
                &mut capped,
                CHUNK,
            ))),
        };
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match fill(artifact, &mut buf) {
                Ok(n) => n,
                Err(e) => break Err(Ok(e)),
            };
            tagger.update(&buf[..n]);
            if let Err(e) = gcm.apply(&mut buf[..n]) {
                break Err(Ok(e));
            }
            if let Err(e) = inflate.write_all(&buf[..n]) {
                break Err(Err(e));
            }
            if n < CHUNK {
                break inflate.finish().map_err(Err);
            }
        }
    };
    let failed = match result {
        Ok(()) => None,
        Err(Ok(e)) => Some(e),
        Err(Err(_)) if capped.exceeded => Some(Error::TooLarge { limit: max_output }),
        Err(Err(e)) => Some(Error::PayloadInvalid {
            compression: compression.as_str(),
            reason: e.to_string(),
        }),
    };
    // Checked before anything else: a changed artifact explains a broken stream too.
    if !bool::from(tagger.finish().ct_eq(&sidecar.auth_tag)) {
        return Err(Error::TagMismatch(
            "the artifact changed between the verifying and the decrypting pass",
        ));
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(capped.written),
    }
}

/// How [`recover`] found the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The local id of the key that verified.
    pub id: String,
    /// `false`: the sidecar's `profileId` named it. `true`: smart recovery found it among
    /// all local keys (the id differs, as after an import).
    pub searched: bool,
    /// The candidates tried before it whose first bytes passed the design's heuristic
    /// (gzip magic or printable text) and whose tag failed: the decoys skipped.
    pub decoys_skipped: Vec<String>,
}

/// Finds the key of an artifact among the local keys (docs/profiles/dbm-stream-v1.md §4):
/// the one whose id is the sidecar's `profileId`, else every key in the given order. A key
/// matches only when the whole artifact's tag verifies under it; first bytes that look
/// like a dump prove nothing.
pub fn recover<R: Read + Seek>(
    sidecar: &Sidecar,
    artifact: &mut R,
    keys: &[(&str, &[u8; KEY_LEN])],
) -> Result<Recovered, Error> {
    if let Some((id, key)) = keys.iter().find(|(id, _)| *id == sidecar.profile_id) {
        verify(key, sidecar, artifact)?;
        return Ok(Recovered {
            id: (*id).to_owned(),
            searched: false,
            decoys_skipped: Vec::new(),
        });
    }
    let mut decoys = Vec::new();
    for (id, key) in keys {
        match verify(key, sidecar, artifact) {
            Ok(()) => {
                return Ok(Recovered {
                    id: (*id).to_owned(),
                    searched: true,
                    decoys_skipped: decoys,
                });
            }
            Err(Error::TagMismatch(_)) => {
                rewind(artifact)?;
                let mut head = vec![0u8; HEURISTIC_LEN];
                let n = fill(artifact, &mut head)?;
                head.truncate(n);
                if heuristic_accepts(&decrypt_prefix_unauthenticated(key, &sidecar.iv, &head)?) {
                    decoys.push((*id).to_owned());
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::NoKeyMatches { tried: keys.len() })
}

/// How much the design's heuristic decrypts.
pub const HEURISTIC_LEN: usize = 1024;
pub const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

/// Decrypts the first bytes of an artifact **without** the tag: what the design's smart
/// recovery looks at. Never a basis for using the key; here to find and explain decoys.
pub fn decrypt_prefix_unauthenticated(
    key: &[u8; KEY_LEN],
    iv: &[u8],
    prefix: &[u8],
) -> Result<Vec<u8>, Error> {
    let mut gcm = Gcm::new(key, iv)?;
    let mut out = prefix.to_vec();
    gcm.apply(&mut out)?;
    Ok(out)
}

/// The design's first-block heuristic: gzip magic, or (brotli has no magic) at least 95 %
/// printable ASCII / whitespace. Unauthenticated; reported, never trusted.
pub fn heuristic_accepts(head: &[u8]) -> bool {
    if head.starts_with(&GZIP_MAGIC) {
        return true;
    }
    let printable = head
        .iter()
        .filter(|b| b.is_ascii_graphic() || b" \t\r\n".contains(b))
        .count();
    !head.is_empty() && printable * 100 >= head.len() * 95
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::AeadInOut;
    use aes_gcm::aes::cipher::consts::{U12, U16};
    use aes_gcm::{AesGcm, Nonce};
    use std::io::Cursor;

    const KEY: [u8; 32] = [7; 32];

    fn one_shot(key: &[u8; 32], iv: &[u8], plain: &[u8]) -> (Vec<u8>, [u8; 16]) {
        let mut buf = plain.to_vec();
        let tag = if iv.len() == 12 {
            AesGcm::<aes_gcm::aes::Aes256, U12>::new(&(*key).into())
                .encrypt_inout_detached(
                    &Nonce::<U12>::try_from(iv).unwrap(),
                    &[],
                    buf.as_mut_slice().into(),
                )
                .unwrap()
        } else {
            AesGcm::<aes_gcm::aes::Aes256, U16>::new(&(*key).into())
                .encrypt_inout_detached(
                    &Nonce::<U16>::try_from(iv).unwrap(),
                    &[],
                    buf.as_mut_slice().into(),
                )
                .unwrap()
        };
        (buf, tag.into())
    }

    fn sealed(c: Compression, iv: &[u8], plain: &[u8]) -> (Vec<u8>, Sidecar) {
        let mut art = Vec::new();
        let sc = seal(&KEY, iv, c, "p1", Some("16"), plain, &mut art).unwrap();
        (art, sc)
    }

    fn opened(sc: &Sidecar, art: &[u8], limit: u64) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        open(&KEY, sc, &mut Cursor::new(art), &mut out, limit).map(|n| {
            assert_eq!(n, out.len() as u64);
            out
        })
    }

    /// A reader that hands out at most `step` bytes a call, to move the block boundaries.
    struct Dribble<'a>(&'a [u8], usize);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn uncompressed_seal_is_aes_gcm_byte_for_byte_for_both_iv_lengths() {
        let plain: Vec<u8> = (0..(3 * CHUNK + 37))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for iv in [&[1u8; 12][..], &[2u8; 16][..]] {
            for len in [0, 1, 15, 16, 17, 1000, CHUNK, CHUNK + 1, plain.len()] {
                for step in [1usize, 7, 4096, usize::MAX] {
                    if step == 1 && len > 2000 {
                        continue;
                    }
                    let mut art = Vec::new();
                    let sc = seal(
                        &KEY,
                        iv,
                        Compression::None,
                        "p",
                        None,
                        Dribble(&plain[..len], step),
                        &mut art,
                    )
                    .unwrap();
                    let (want, tag) = one_shot(&KEY, iv, &plain[..len]);
                    assert_eq!(art, want, "iv {} len {len} step {step}", iv.len());
                    assert_eq!(sc.auth_tag, tag, "iv {} len {len} step {step}", iv.len());
                    assert_eq!(opened(&sc, &art, u64::MAX).unwrap(), &plain[..len]);
                }
            }
        }
    }

    #[test]
    fn every_compression_round_trips_and_is_what_its_decoder_reads() {
        let plain = b"INSERT INTO t VALUES (1, 'x');\n".repeat(5000);
        for c in Compression::ALL {
            for iv in [&[3u8; 12][..], &[4u8; 16][..]] {
                let (art, sc) = sealed(c, iv, &plain);
                assert_eq!(opened(&sc, &art, u64::MAX).unwrap(), plain);
                // The artifact is the compressed stream under plain AES-GCM.
                let mut compressed = art.clone();
                let gcm_plain = {
                    let (ks, _) = one_shot(&KEY, iv, &vec![0u8; art.len()]);
                    for (b, k) in compressed.iter_mut().zip(ks) {
                        *b ^= k;
                    }
                    compressed
                };
                let mut back = Vec::new();
                match c {
                    Compression::Gzip => {
                        flate2::read::GzDecoder::new(&gcm_plain[..])
                            .read_to_end(&mut back)
                            .unwrap();
                    }
                    Compression::Brotli => {
                        brotli::Decompressor::new(&gcm_plain[..], 4096)
                            .read_to_end(&mut back)
                            .unwrap();
                    }
                    Compression::None => back = gcm_plain,
                }
                assert_eq!(back, plain, "{c:?}");
                assert!(c == Compression::None || art.len() < plain.len() / 10);
            }
        }
    }

    /// Records whether any byte of plaintext ever reached it.
    #[derive(Default)]
    struct Witness(usize);
    impl Write for Witness {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn tampering_is_corrupted_and_releases_no_plaintext() {
        let plain = b"SELECT 1;\n".repeat(20000);
        for c in Compression::ALL {
            let (art, sc) = sealed(c, &[5; 12], &plain);
            let mut cases: Vec<(Vec<u8>, Sidecar)> = Vec::new();
            let mut flipped = art.clone();
            flipped[art.len() / 2] ^= 1;
            cases.push((flipped, sc.clone()));
            let mut last = art.clone();
            *last.last_mut().unwrap() ^= 0x80;
            cases.push((last, sc.clone()));
            cases.push((art[..art.len() - 1].to_vec(), sc.clone()));
            cases.push(([art.clone(), vec![0]].concat(), sc.clone()));
            cases.push((Vec::new(), sc.clone()));
            let mut tag = sc.clone();
            tag.auth_tag[15] ^= 1;
            cases.push((art.clone(), tag));
            let mut iv = sc.clone();
            iv.iv[0] ^= 1;
            cases.push((art.clone(), iv));
            let mut long_iv = sc.clone();
            long_iv.iv.extend([0; 4]);
            cases.push((art.clone(), long_iv));
            for (i, (a, s)) in cases.into_iter().enumerate() {
                let mut w = Witness::default();
                let e = open(&KEY, &s, &mut Cursor::new(&a), &mut w, u64::MAX).unwrap_err();
                assert_eq!(e.class(), ErrorClass::Corrupted, "{c:?} case {i}: {e}");
                assert_eq!(w.0, 0, "{c:?} case {i} released plaintext");
            }
            let mut w = Witness::default();
            let e = open(&[8; 32], &sc, &mut Cursor::new(&art), &mut w, u64::MAX).unwrap_err();
            assert_eq!((e.class(), w.0), (ErrorClass::Corrupted, 0));
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit_with_too_large() {
        let zeros = Cursor::new(vec![0u8; 16 << 20]);
        for c in [Compression::Gzip, Compression::Brotli] {
            let mut art = Vec::new();
            let sc = seal(&KEY, &[6; 16], c, "p", None, zeros.clone(), &mut art).unwrap();
            assert!(art.len() < 200_000, "{c:?}: {}", art.len());
            let mut w = Witness::default();
            let e = open(&KEY, &sc, &mut Cursor::new(&art), &mut w, 1 << 20).unwrap_err();
            assert_eq!(e, Error::TooLarge { limit: 1 << 20 }, "{c:?}");
            assert!(w.0 <= 1 << 20);
            assert_eq!(opened(&sc, &art, 16 << 20).unwrap().len(), 16 << 20);
        }
        let (art, sc) = sealed(Compression::None, &[6; 12], &[1; 100]);
        assert_eq!(
            opened(&sc, &art, 99).unwrap_err().class(),
            ErrorClass::TooLarge
        );
        assert_eq!(opened(&sc, &art, 100).unwrap().len(), 100);
    }

    /// Seals `compressed` as-is (compression NONE) and relabels it: an authentic artifact
    /// whose content is whatever the writer produced.
    fn authentic(compressed: &[u8], c: Compression) -> (Vec<u8>, Sidecar) {
        let (art, mut sc) = sealed(Compression::None, &[9; 12], compressed);
        sc.compression = c;
        (art, sc)
    }

    #[test]
    fn an_authentic_but_broken_stream_is_payload_invalid() {
        let plain = b"CREATE TABLE t (a int);\n".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 5, 22);
            w.write_all(&plain).unwrap();
        }
        for (c, stream) in [(Compression::Gzip, &gz), (Compression::Brotli, &br)] {
            for bad in [
                stream[..stream.len() - 1].to_vec(),
                [stream.clone(), b"x".to_vec()].concat(),
                b"plain text".to_vec(),
                Vec::new(),
            ] {
                let (art, sc) = authentic(&bad, c);
                let e = opened(&sc, &art, u64::MAX).unwrap_err();
                assert_eq!(e.class(), ErrorClass::PayloadInvalid, "{c:?}: {e}");
            }
        }
        // Two gzip members are one dump, as gunzip reads them.
        let (art, sc) = authentic(&[gz.clone(), gz].concat(), Compression::Gzip);
        assert_eq!(opened(&sc, &art, u64::MAX).unwrap(), plain.repeat(2));
    }

    #[test]
    fn sidecars_parse_and_every_defect_is_malformed() {
        let (_, sc) = sealed(Compression::Brotli, &[1; 16], b"x");
        let text = sc.to_json().to_string();
        assert_eq!(parse_sidecar(text.as_bytes()).unwrap(), sc);
        let good = sc.to_json();
        type Edit = Box<dyn Fn(&mut Value)>;
        let edits: Vec<Edit> = vec![
            Box::new(|v| v["encryption"]["iv"] = json!("00".repeat(13))),
            Box::new(|v| v["encryption"]["iv"] = json!("0g".repeat(12))),
            Box::new(|v| v["encryption"]["iv"] = json!("000")),
            Box::new(|v| v["encryption"]["authTag"] = json!("00".repeat(15))),
            Box::new(|v| v["encryption"]["enabled"] = json!(false)),
            Box::new(|v| v["encryption"]["profileId"] = json!(7)),
            Box::new(|v| v["compression"] = json!("gzip")),
            Box::new(|v| v["engineVersion"] = json!(8)),
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("encryption");
            }),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut v = good.clone();
            edit(&mut v);
            let e = parse_sidecar(v.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.class(), ErrorClass::Malformed, "edit {i}: {e}");
        }
        for bytes in [&b"[]"[..], b"{", b"\xff"] {
            assert_eq!(
                parse_sidecar(bytes).unwrap_err().class(),
                ErrorClass::Malformed
            );
        }
    }

    #[test]
    fn keys_export_as_lower_hex_and_import_either_case_only_at_64_digits() {
        let key: [u8; 32] = std::array::from_fn(|i| (i * 9) as u8 ^ 0xa5);
        let hex = export_key(&key);
        assert_eq!(hex.len(), 64);
        assert_eq!(hex.as_str(), hex.to_lowercase());
        assert_eq!(*import_key(&hex).unwrap(), key);
        assert_eq!(*import_key(&hex.to_uppercase()).unwrap(), key);
        for bad in [
            &hex[..63],
            &format!("{}0", hex.as_str()),
            &format!(" {}", &hex[1..]),
            &format!("{}\n", &hex[..63]),
            &format!("0x{}", &hex[2..]),
            &format!("{}g", &hex[..63]),
            "",
            &"é".repeat(32),
        ] {
            let e = import_key(bad).unwrap_err();
            assert_eq!(e.class(), ErrorClass::Malformed, "{bad:?}");
        }
    }

    #[test]
    fn recovery_needs_the_full_tag_and_skips_heuristic_decoys() {
        let plain = b"-- dump\n".repeat(1000);
        let (art, sc) = sealed(Compression::Gzip, &[2; 12], &plain);
        let other = [1u8; 32];
        let mut named = sc.clone();
        named.profile_id = "old".into();
        // profileId names a local key: it is used, not searched for.
        let r = recover(&sc, &mut Cursor::new(&art), &[("x", &other), ("p1", &KEY)]).unwrap();
        assert_eq!((r.id.as_str(), r.searched), ("p1", false));
        let r = recover(
            &named,
            &mut Cursor::new(&art),
            &[("x", &other), ("new", &KEY)],
        )
        .unwrap();
        assert_eq!((r.id.as_str(), r.searched), ("new", true));
        let e = recover(&named, &mut Cursor::new(&art), &[("x", &other)]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::WrongKey);
        // A key named by profileId that does not verify is damage, not a search.
        let e = recover(&sc, &mut Cursor::new(&art), &[("p1", &other), ("k", &KEY)]).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Corrupted);
        // The plaintext under the real key passes the heuristic; a wrong key's almost never.
        let head =
            decrypt_prefix_unauthenticated(&KEY, &sc.iv, &art[..art.len().min(HEURISTIC_LEN)])
                .unwrap();
        assert!(heuristic_accepts(&head) && head.starts_with(&GZIP_MAGIC));
        let head =
            decrypt_prefix_unauthenticated(&other, &sc.iv, &art[..art.len().min(HEURISTIC_LEN)])
                .unwrap();
        assert!(!heuristic_accepts(&head));
        assert!(heuristic_accepts(b"INSERT INTO t VALUES (1);\n"));
        assert!(!heuristic_accepts(b""));
    }
}
