#![forbid(unsafe_code)]
//! Seals a generated dump of SIZE MiB into an artifact file and opens it again, so that the
//! peak memory of a large streamed seal/open can be measured from outside
//! (docs/profiles/dbm-stream-v1.md §3, "Memory bound"):
//!
//! ```sh
//! /usr/bin/time -v target/debug/examples/dbm_stream_memory seal 1024 GZIP /tmp/a.enc
//! /usr/bin/time -v target/debug/examples/dbm_stream_memory open 1024 GZIP /tmp/a.enc
//! ```
//!
//! The dump is SQL-like text made on the fly; the open writes into a sink that only counts.
//! The sidecar goes to `PATH.meta.json`.

use std::fs::File;
use std::io::{self, BufWriter, Read};

use backproof_format::profiles::dbm_stream_v1::{self as dbm, Compression};

/// SQL lines with a counter in them, `left` bytes in all.
struct Dump {
    left: u64,
    line: Vec<u8>,
    at: usize,
    n: u64,
}

impl Read for Dump {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut i = 0;
        while i < buf.len() && self.left > 0 {
            if self.at == self.line.len() {
                self.n += 1;
                self.line = format!(
                    "INSERT INTO t VALUES ({}, 'row {}');\n",
                    self.n,
                    self.n % 977
                )
                .into_bytes();
                self.at = 0;
            }
            let k = (self.line.len() - self.at)
                .min(buf.len() - i)
                .min(self.left as usize);
            buf[i..i + k].copy_from_slice(&self.line[self.at..self.at + k]);
            i += k;
            self.at += k;
            self.left -= k as u64;
        }
        Ok(i)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, op, mib, compression, path] = &args[..] else {
        return Err("usage: dbm_stream_memory seal|open SIZE_MIB GZIP|BROTLI|NONE PATH".into());
    };
    let size: u64 = mib.parse::<u64>()? << 20;
    let compression = Compression::ALL
        .into_iter()
        .find(|c| c.as_str() == compression)
        .ok_or("compression is GZIP, BROTLI or NONE")?;
    let key = [0x42u8; 32];
    let meta = format!("{path}.meta.json");
    match op.as_str() {
        "seal" => {
            let dump = Dump {
                left: size,
                line: Vec::new(),
                at: 0,
                n: 0,
            };
            let out = BufWriter::new(File::create(path)?);
            let sc = dbm::seal(&key, &[7; 12], compression, "p", None, dump, out)?;
            std::fs::write(&meta, sc.to_json().to_string())?;
            println!(
                "sealed {} MiB into {} bytes",
                mib,
                std::fs::metadata(path)?.len()
            );
        }
        "open" => {
            let sc = dbm::parse_sidecar(&std::fs::read(&meta)?)?;
            let mut artifact = File::open(path)?;
            let n = dbm::open(&key, &sc, &mut artifact, io::sink(), u64::MAX)?;
            if n != size {
                return Err(format!("opened {n} bytes, sealed {size}").into());
            }
            println!("opened {n} bytes");
        }
        _ => return Err("op is seal or open".into()),
    }
    Ok(())
}
