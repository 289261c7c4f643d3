//! `backproof serve`: the reference server (BRIEF §4), and `backproof serve token`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

/// Run the reference server. With no storage flags it starts a throwaway stack (Postgres +
/// S3, BRIEF §5) and prints a demo token and a curl example. SIGINT (Ctrl-C) or SIGTERM stop
/// it gracefully (requests in progress finish; a throwaway stack is removed). One log line
/// per request goes to stderr (user, method, path, status, version, bytes, latency); set
/// RUST_LOG to change the default `warn,backproof_server=info`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    /// Address to listen on (default 127.0.0.1:$PORT, or 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Postgres URL. Without it (and without --s3-endpoint) a throwaway stack is started.
    #[arg(long, env = "BACKPROOF_DATABASE_URL")]
    database_url: Option<String>,
    #[arg(long, env = "BACKPROOF_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    #[arg(long, env = "BACKPROOF_S3_BUCKET", default_value = "backproof")]
    s3_bucket: String,
    #[arg(long, env = "BACKPROOF_S3_ACCESS_KEY", default_value = "")]
    s3_access_key: String,
    #[arg(
        long,
        env = "BACKPROOF_S3_SECRET_KEY",
        default_value = "",
        hide_env_values = true
    )]
    s3_secret_key: String,
    #[arg(long, env = "BACKPROOF_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// HMAC secret for bearer tokens (random when a throwaway stack is started).
    #[arg(long, env = "BACKPROOF_AUTH_SECRET", hide_env_values = true)]
    auth_secret: Option<String>,
    /// Largest accepted body in bytes (413 above).
    #[arg(long, env = "BACKPROOF_MAX_BLOB_BYTES", default_value_t = backproof_server::DEFAULT_MAX_BLOB_BYTES)]
    max_blob_bytes: u64,
    /// Seconds an unreferenced object is kept before the sweeper deletes it.
    #[arg(long, env = "BACKPROOF_ORPHAN_GRACE", default_value_t = 600)]
    orphan_grace: u64,
    /// Seconds between sweeps.
    #[arg(long, env = "BACKPROOF_SWEEP_INTERVAL", default_value_t = 60)]
    sweep_interval: u64,
    /// Seed 002's bug (overwrite backups/{user} before the DB update), for proving the suite.
    #[arg(long, hide = true)]
    unsafe_overwrite_in_place: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Print the bearer token of a user (needs --auth-secret or BACKPROOF_AUTH_SECRET).
    Token {
        #[arg(long)]
        user: String,
        #[arg(long, env = "BACKPROOF_AUTH_SECRET", hide_env_values = true)]
        auth_secret: String,
    },
}

impl Args {
    /// Whether this invocation starts a throwaway stack (no subcommand, no storage given).
    pub fn starts_stack(&self) -> bool {
        self.command.is_none() && self.database_url.is_none() && self.s3_endpoint.is_none()
    }
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    if let Some(Sub::Token { user, auth_secret }) = &args.command {
        if !backproof_server::valid_user(user) {
            anyhow::bail!("user names are 1–64 characters of A-Z a-z 0-9 _ -; got {user:?}");
        }
        println!(
            "{}",
            backproof_server::mint_token(auth_secret.as_bytes(), user)
        );
        return Ok(crate::exit::OK);
    }
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<u8> {
    // Installed first, so that SIGTERM while the throwaway stack starts still ends in a
    // graceful stop that removes its temporary directories (the default action would kill
    // us with them left behind).
    let stop = backproof_server::shutdown_signal().context("cannot listen for SIGINT/SIGTERM")?;
    let listen = match args.listen {
        Some(a) => a,
        None => match std::env::var("PORT") {
            Ok(p) => SocketAddr::from((
                [127, 0, 0, 1],
                p.parse().context("PORT is not a port number")?,
            )),
            Err(_) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        },
    };
    let mut config = backproof_server::Config {
        listen,
        s3_bucket: args.s3_bucket,
        s3_access_key: args.s3_access_key,
        s3_secret_key: args.s3_secret_key,
        s3_region: args.s3_region,
        max_blob_bytes: args.max_blob_bytes,
        orphan_grace: Duration::from_secs(args.orphan_grace),
        sweep_interval: Duration::from_secs(args.sweep_interval.max(1)),
        unsafe_overwrite_in_place: args.unsafe_overwrite_in_place,
        ..Default::default()
    };
    let demo = args.database_url.is_none() && args.s3_endpoint.is_none();
    // Kept alive until the server stops: dropping it tears the throwaway stack down.
    let _stack = if demo {
        let stack = backproof_stack::Stack::start(backproof_stack::StackChoice::Auto)
            .await
            .context("starting a throwaway stack (or pass --database-url and --s3-endpoint)")?;
        config.database_url = stack.postgres.url().to_owned();
        config.s3_endpoint = stack.s3.endpoint().to_owned();
        config.s3_bucket = stack.s3.bucket().to_owned();
        config.s3_access_key = stack.s3.access_key().to_owned();
        config.s3_secret_key = stack.s3.secret_key().to_owned();
        config.s3_region = stack.s3.region().to_owned();
        eprintln!("backproof serve: started {}", stack.describe());
        Some(stack)
    } else {
        config.database_url = args
            .database_url
            .context("--database-url is required with --s3-endpoint")?;
        config.s3_endpoint = args
            .s3_endpoint
            .context("--s3-endpoint is required with --database-url")?;
        None
    };
    config.auth_secret = match args.auth_secret {
        Some(s) => s,
        None if demo => backproof_server::random_secret(),
        None => {
            anyhow::bail!("set --auth-secret (or BACKPROOF_AUTH_SECRET) to the token HMAC secret")
        }
    };
    let secret = config.auth_secret.clone();
    let server = backproof_server::bind(config)
        .await
        .context("starting the server")?;
    let addr = server.local_addr();
    println!("listening on http://{addr}");
    if demo {
        let token = backproof_server::mint_token(secret.as_bytes(), "demo");
        println!("demo token (user \"demo\"): {token}");
        println!(
            "try: curl -i -H 'Authorization: Bearer {token}' --data-binary @some-32-byte-or-larger-file http://{addr}/v1/backup"
        );
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    server.run_until(stop).await.context("serving")?;
    if demo {
        eprintln!("backproof serve: stopped; removing the throwaway stack");
    }
    Ok(crate::exit::OK)
}
