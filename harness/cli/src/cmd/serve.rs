//! `backproof serve`: the reference server (docs/API.md), and `backproof serve token`.

use std::net::SocketAddr;

use anyhow::Context as _;

/// Run the reference server. With no storage flags it starts a throwaway stack (Postgres +
/// S3, docs/STACK.md) and prints a demo token and a curl example. SIGINT (Ctrl-C) or SIGTERM stop
/// it gracefully (requests in progress finish; a throwaway stack is removed). One log line
/// per request goes to stderr (user, method, path, status, version, bytes, latency); set
/// RUST_LOG to change the default `warn,backproof_server=info`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    server: backproof_server::ServerArgs,
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
        self.command.is_none()
            && self.server.database_url.is_none()
            && self.server.s3_endpoint.is_none()
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
    let mut server_args = args.server;
    if server_args.listen.is_none() {
        server_args.listen = Some(match std::env::var("PORT") {
            Ok(p) => SocketAddr::from((
                [127, 0, 0, 1],
                p.parse().context("PORT is not a port number")?,
            )),
            Err(_) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        });
    }
    let database_url = server_args.database_url.take();
    let s3_endpoint = server_args.s3_endpoint.take();
    let auth_secret = server_args.auth_secret.take();
    let mut config = server_args.into_config();
    let demo = database_url.is_none() && s3_endpoint.is_none();
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
        config.database_url =
            database_url.context("--database-url is required with --s3-endpoint")?;
        config.s3_endpoint =
            s3_endpoint.context("--s3-endpoint is required with --database-url")?;
        None
    };
    config.auth_secret = match auth_secret {
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
