//! `backproof adapter`: the reference client behind the JSON Lines adapter protocol
//! (docs/ADAPTER.md) on stdin/stdout. Logs go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use backproof_client::ClientConfig;
use backproof_client::adapter::{AdapterConfig, serve};
use backproof_format::KdfParams;

/// Speak the adapter protocol on stdin/stdout until stdin closes.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for what must survive a kill of this process (the last version each server
    /// acknowledged). The harness restarts the adapter with the same directory.
    #[arg(long, value_name = "DIR", env = "BACKPROOF_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The writer's own Argon2id parameters for seal, backup and rotate, as
    /// `m=KiB,t=PASSES,p=LANES` (default m=65536,t=3,p=4, RFC 9106's second choice).
    #[arg(long, value_name = "m=..,t=..,p=..", value_parser = parse_kdf)]
    pub kdf: Option<KdfParams>,
}

/// Parses `m=7168,t=5,p=1` (any order, all three required).
pub fn parse_kdf(s: &str) -> Result<KdfParams, String> {
    let (mut m, mut t, mut p) = (None, None, None);
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not KEY=VALUE (expected m=..,t=..,p=..)"))?;
        let v: u32 = v
            .trim()
            .parse()
            .map_err(|e| format!("{k}={v}: not a non-negative integer ({e})"))?;
        match k.trim() {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            other => return Err(format!("unknown KDF parameter {other:?} (use m, t, p)")),
        }
    }
    match (m, t, p) {
        (Some(m_cost), Some(t_cost), Some(p_cost)) => Ok(KdfParams {
            m_cost,
            t_cost,
            p_cost,
        }),
        _ => Err("all of m=, t= and p= are required, e.g. m=65536,t=3,p=4".into()),
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let mut client = ClientConfig {
        state_dir: args.state_dir,
        ..ClientConfig::default()
    };
    if let Some(kdf) = args.kdf {
        client.kdf = kdf;
    }
    let config = AdapterConfig {
        client,
        ..AdapterConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let stdout = tokio::io::stdout();
        serve(stdin, stdout, config).await
    })
    .context("adapter stopped")?;
    Ok(crate::exit::OK)
}
