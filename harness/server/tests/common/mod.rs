//! Shared test setup: a real throwaway Postgres + embedded S3 per test (backproof-stack).
#![allow(dead_code)]

pub mod child;

use backproof_server::{Config, ServerHandle};
use backproof_stack::{PgHandle, S3Handle, Stack};

pub const SECRET: &str = "test-secret-for-backproof";

pub struct Env {
    pub stack: Stack,
    pub db_url: String,
}

impl Env {
    pub async fn start(name: &str) -> Env {
        let (pg, s3) =
            tokio::try_join!(PgHandle::throwaway(), S3Handle::embedded()).expect("stack starts");
        let stack = Stack::from_parts(pg, s3);
        let db_url = stack
            .postgres
            .create_unique_database(name)
            .await
            .expect("create database");
        Env { stack, db_url }
    }

    pub fn config(&self) -> Config {
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: self.db_url.clone(),
            s3_endpoint: self.stack.s3.endpoint().to_owned(),
            s3_bucket: self.stack.s3.bucket().to_owned(),
            s3_access_key: self.stack.s3.access_key().to_owned(),
            s3_secret_key: self.stack.s3.secret_key().to_owned(),
            s3_region: self.stack.s3.region().to_owned(),
            auth_secret: SECRET.to_owned(),
            orphan_grace: std::time::Duration::ZERO,
            sweep_interval: std::time::Duration::from_secs(3600),
            ..Config::default()
        }
    }

    /// Starts an in-process server; returns its base URL and handle.
    pub async fn server(&self, config: Config) -> (String, ServerHandle) {
        let server = backproof_server::bind(config).await.expect("server binds");
        let url = format!("http://{}", server.local_addr());
        let handle = server.handle();
        tokio::spawn(server.run());
        (url, handle)
    }

    /// Object keys under backups/ in S3, sorted.
    pub async fn objects(&self) -> Vec<String> {
        self.objects_under("backups/").await
    }

    /// Object keys under `prefix` in S3, sorted.
    pub async fn objects_under(&self, prefix: &str) -> Vec<String> {
        let client = self.stack.s3.client().await;
        let resp = client
            .list_objects_v2()
            .bucket(self.stack.s3.bucket())
            .prefix(prefix)
            .send()
            .await
            .expect("list objects");
        let mut keys: Vec<String> = resp
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }

    /// (user, version, object_key, sha256) of every row, sorted by user.
    pub async fn rows(&self) -> Vec<(String, i64, String, String)> {
        let pool = sqlx::PgPool::connect(&self.db_url).await.expect("connect");
        let rows: Vec<(String, i64, String, String)> = sqlx::query_as(
            "SELECT user_id, version, object_key, sha256 FROM backups ORDER BY user_id",
        )
        .fetch_all(&pool)
        .await
        .expect("select rows");
        pool.close().await;
        rows
    }
}

pub fn token(user: &str) -> String {
    backproof_server::mint_token(SECRET.as_bytes(), user)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Deterministic, distinct blob contents.
pub fn blob(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A plain blocking HTTP/1.1 exchange, as naive clients do it: write the whole request
/// (head, then every body byte), then read the answer until the server closes. Returns the
/// status, the lower-cased head and the body. Errors are returned, not unwrapped, so that a
/// reset shows up as the failure it is.
pub fn blocking_exchange(
    addr: &str,
    head: &str,
    body: &[u8],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    s.set_write_timeout(Some(std::time::Duration::from_secs(60)))?;
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    Ok(parse_response(&resp))
}

/// Status, lower-cased head, body of a raw answer (status 0 when there is none).
pub fn parse_response(resp: &[u8]) -> (u16, String, Vec<u8>) {
    let Some(end) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (0, String::from_utf8_lossy(resp).into_owned(), Vec::new());
    };
    let head = String::from_utf8_lossy(&resp[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, resp[end + 4..].to_vec())
}

/// The address part of `http://ADDR`.
pub fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}
