//! `backproof adapter`: the reference client behind the JSON Lines adapter protocol
//! (docs/ADAPTER.md) on stdin/stdout. Logs go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use backproof_client::adapter::{AdapterConfig, serve};
use backproof_client::{Broken, ClientConfig, RetryPolicy};
use backproof_format::KdfParams;

/// Speak the adapter protocol on stdin/stdout until stdin closes.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub writer: WriterArgs,
}

/// What the reference client keeps and how it seals: shared by `adapter` and `client`.
#[derive(Debug, clap::Args)]
pub struct WriterArgs {
    /// Directory for what must survive a kill of this process (the last version each server
    /// acknowledged), so the next backup updates instead of creating; give the same one
    /// after a restart.
    #[arg(long, value_name = "DIR", env = "BACKPROOF_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The writer's own Argon2id parameters for seal, backup and rotate, as
    /// `m=KiB,t=PASSES,p=LANES` (default m=65536,t=3,p=4, RFC 9106's second choice).
    #[arg(long, value_name = "m=..,t=..,p=..", value_parser = parse_kdf)]
    pub kdf: Option<KdfParams>,
    /// Read the writer's parameters from a file: the output of `backproof tune --json`, a
    /// `{"m_cost", "t_cost", "p_cost"}` object, or one `m=..,t=..,p=..` line.
    #[arg(long, value_name = "FILE", conflicts_with = "kdf")]
    pub kdf_file: Option<PathBuf>,
    /// Broken variant: answer `network`/`server_error` on the first transient failure
    /// instead of retrying inside the call (a valid design the suite grades
    /// `pass-acceptable`; docs/ADAPTER.md, "Broken variants of the reference adapter").
    #[arg(long, hide = true)]
    pub no_internal_retries: bool,
    /// Broken variant: every seal uses one fixed nonce.
    #[arg(long, hide = true)]
    pub unsafe_fixed_nonce: bool,
    /// Broken variant: every seal uses one fixed salt.
    #[arg(long, hide = true)]
    pub unsafe_fixed_salt: bool,
    /// Broken variant: a retried rotation does not recognise that it already happened.
    #[arg(long, hide = true)]
    pub unsafe_rotate_not_idempotent: bool,
    /// Broken variant (byok-json-v1): rotation deletes the final object before verifying
    /// the temporary one.
    #[arg(long, hide = true)]
    pub unsafe_byok_delete_final_before_verify: bool,
    /// Broken variant (byok-json-v1): rotation deletes and rewrites the final object
    /// without a temporary copy.
    #[arg(long, hide = true)]
    pub unsafe_byok_skip_temp: bool,
    /// Broken variant (byok-json-v1): Argon2id `memory` written and read in MiB.
    #[arg(long, hide = true)]
    pub unsafe_byok_memory_mib: bool,
    /// Broken variant (metamask-vault): an update deletes the stored vault before it writes
    /// the new one.
    #[arg(long, hide = true)]
    pub unsafe_vault_delete_before_put: bool,
    /// Broken variant (dbm-stream-v1): smart recovery takes the first key whose
    /// unauthenticated first bytes look like a dump.
    #[arg(long, hide = true)]
    pub unsafe_dbm_heuristic_recovery: bool,
    /// Broken variant (dbm-stream-v1): seal appends the GCM tag to the artifact.
    #[arg(long, hide = true)]
    pub unsafe_dbm_append_tag: bool,
    /// Broken variant (dbm-stream-v1): a restore to a path writes plaintext before the
    /// tag is checked.
    #[arg(long, hide = true)]
    pub unsafe_dbm_plaintext_before_tag: bool,
    /// Broken variant (dbm-stream-v1): every backup is written under one name, the new
    /// artifact over the old one before the new sidecar.
    #[arg(long, hide = true)]
    pub unsafe_dbm_overwrite_in_place: bool,
    /// Broken variant (noah-v0): every backup writes slot 1, so there is never a second
    /// backup to fall back to.
    #[arg(long, hide = true)]
    pub unsafe_noah_always_slot_1: bool,
}

impl WriterArgs {
    /// The reference client's settings: the state dir and the writer's parameters from
    /// `--kdf` or `--kdf-file`.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig {
            state_dir: self.state_dir.clone(),
            broken: Broken {
                fixed_nonce: self.unsafe_fixed_nonce,
                fixed_salt: self.unsafe_fixed_salt,
                rotate_not_idempotent: self.unsafe_rotate_not_idempotent,
                byok: backproof_client::object_store::ByokBroken {
                    delete_final_before_verify: self.unsafe_byok_delete_final_before_verify,
                    skip_temp: self.unsafe_byok_skip_temp,
                    memory_mib: self.unsafe_byok_memory_mib,
                },
                vault: backproof_client::vault_store::VaultBroken {
                    delete_before_put: self.unsafe_vault_delete_before_put,
                },
                noah: backproof_client::noah_store::NoahBroken {
                    always_slot_1: self.unsafe_noah_always_slot_1,
                },
            },
            ..ClientConfig::default()
        };
        if self.no_internal_retries {
            config.retry = RetryPolicy::NONE;
        }
        match (self.kdf, &self.kdf_file) {
            (Some(k), _) => config.kdf = k,
            (None, Some(path)) => {
                config.kdf = backproof_tune::load_kdf_file(path)
                    .with_context(|| format!("cannot use --kdf-file {}", path.display()))?;
            }
            (None, None) => {}
        }
        Ok(config)
    }
}

/// Parses `m=7168,t=5,p=1` (any order, all three required; `m` also as `64MiB`); one parser
/// for the whole binary so `tune`, `client` and `adapter` agree on the syntax and the policy.
pub fn parse_kdf(s: &str) -> Result<KdfParams, String> {
    backproof_tune::parse_kdf(s).map_err(|e| e.to_string())
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let config = AdapterConfig {
        client: args.writer.client_config()?,
        dbm: backproof_client::adapter::DbmBroken {
            heuristic_recovery: args.writer.unsafe_dbm_heuristic_recovery,
            append_tag: args.writer.unsafe_dbm_append_tag,
            plaintext_before_tag: args.writer.unsafe_dbm_plaintext_before_tag,
            overwrite_in_place: args.writer.unsafe_dbm_overwrite_in_place,
        },
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
