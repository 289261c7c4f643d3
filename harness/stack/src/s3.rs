//! S3 providers: an external endpoint, a `minio` binary on PATH, testcontainers' MinIO, and
//! the embedded s3s-fs server.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_s3::error::DisplayErrorContext;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::StackError;
use crate::util::{free_port, http_status, log_tail, wait_until};

/// The s3s-fs release the embedded server is built from; kept equal to the `=` pin in the
/// workspace Cargo.toml (a test checks it), because reports record it.
pub const EMBEDDED_S3S_FS_VERSION: &str = "0.14.1";

/// Region every provider is addressed with unless `BACKPROOF_S3_REGION` says otherwise.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Bucket the stack creates when none is named.
pub const DEFAULT_BUCKET: &str = "backproof";

const EMBEDDED_ACCESS_KEY: &str = "backproof";
const EMBEDDED_SECRET_KEY: &str = "backproof-embedded-secret";
const MINIO_ACCESS_KEY: &str = "backproof";
// MinIO requires a root password of at least 8 characters.
const MINIO_SECRET_KEY: &str = "backproof-minio-secret";
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A reachable S3 endpoint with one bucket ready. Dropping it tears down what it started.
#[derive(Debug)]
pub struct S3Handle {
    endpoint: String,
    bucket: String,
    access_key: String,
    secret_key: String,
    region: String,
    version: String,
    provider: S3Provider,
}

#[derive(Debug)]
enum S3Provider {
    External,
    Embedded(EmbeddedS3),
    Minio(Box<MinioProcess>),
    #[expect(
        dead_code,
        reason = "held so the container lives as long as the handle"
    )]
    Container(Box<ContainerMinio>),
}

#[derive(Debug)]
struct ContainerMinio {
    // Held only so the container lives as long as the handle.
    _container: testcontainers_modules::testcontainers::ContainerAsync<
        testcontainers_modules::minio::MinIO,
    >,
}

impl S3Handle {
    /// An endpoint someone else runs. The bucket is created if it does not exist, so the
    /// credentials are checked before any test relies on them.
    pub async fn external(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        bucket: &str,
        region: &str,
    ) -> Result<S3Handle, StackError> {
        validate_bucket_name(bucket)?;
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(StackError::InvalidEnv {
                var: "BACKPROOF_S3_ENDPOINT",
                reason: format!("expected http://host:port or https://host:port, got {endpoint:?}"),
            });
        }
        let handle = S3Handle {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            bucket: bucket.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            version: String::new(),
            provider: S3Provider::External,
        };
        handle.create_bucket(bucket).await?;
        Ok(handle)
    }

    /// The embedded s3s-fs server, in this process, on a free port of 127.0.0.1, storing
    /// objects in a temporary directory, with SigV4 authentication on.
    pub async fn embedded() -> Result<S3Handle, StackError> {
        let server = EmbeddedS3::start_temp().await?;
        let handle = S3Handle {
            endpoint: format!("http://{}", server.addr()),
            bucket: DEFAULT_BUCKET.to_owned(),
            access_key: EMBEDDED_ACCESS_KEY.to_owned(),
            secret_key: EMBEDDED_SECRET_KEY.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            version: EMBEDDED_S3S_FS_VERSION.to_owned(),
            provider: S3Provider::Embedded(server),
        };
        handle.create_bucket(DEFAULT_BUCKET).await?;
        Ok(handle)
    }

    /// A `minio` binary from PATH, as a child process on a free port of 127.0.0.1.
    pub async fn minio() -> Result<S3Handle, StackError> {
        let binary = which::which("minio").map_err(|_| StackError::NotAvailable {
            what: "minio binary",
            hint: "put a `minio` server binary on PATH (the project's nix shell has one)".into(),
        })?;
        let process = MinioProcess::start(binary).await?;
        let handle = S3Handle {
            endpoint: format!("http://127.0.0.1:{}", process.port),
            bucket: DEFAULT_BUCKET.to_owned(),
            access_key: MINIO_ACCESS_KEY.to_owned(),
            secret_key: MINIO_SECRET_KEY.to_owned(),
            region: DEFAULT_REGION.to_owned(),
            version: process.version.clone(),
            provider: S3Provider::Minio(Box::new(process)),
        };
        handle.create_bucket(DEFAULT_BUCKET).await?;
        Ok(handle)
    }

    /// testcontainers' MinIO module. Fails at once, with advice, when no Docker engine answers.
    pub async fn container() -> Result<S3Handle, StackError> {
        use testcontainers_modules::testcontainers::runners::AsyncRunner;

        crate::util::docker_engine()?;
        let container = testcontainers_modules::minio::MinIO::default()
            .start()
            .await
            .map_err(|e| StackError::Container(e.to_string()))?;
        let port = container
            .get_host_port_ipv4(9000)
            .await
            .map_err(|e| StackError::Container(e.to_string()))?;
        let host = container
            .get_host()
            .await
            .map_err(|e| StackError::Container(e.to_string()))?;
        let handle = S3Handle {
            endpoint: format!("http://{host}:{port}"),
            bucket: DEFAULT_BUCKET.to_owned(),
            // The image's documented default root credentials.
            access_key: "minioadmin".to_owned(),
            secret_key: "minioadmin".to_owned(),
            region: DEFAULT_REGION.to_owned(),
            version: String::new(),
            provider: S3Provider::Container(Box::new(ContainerMinio {
                _container: container,
            })),
        };
        handle.create_bucket(DEFAULT_BUCKET).await?;
        Ok(handle)
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (path-style addressing).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The bucket created for this stack.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// e.g. "s3s-fs 0.14.1 (embedded)".
    pub fn describe(&self) -> String {
        match &self.provider {
            S3Provider::External => format!("s3 at {} (BACKPROOF_S3_ENDPOINT)", self.endpoint),
            S3Provider::Embedded(_) => format!("s3s-fs {} (embedded)", self.version),
            S3Provider::Minio(_) => format!("minio {} (binary on PATH)", self.version),
            S3Provider::Container(_) => "minio (testcontainers)".to_owned(),
        }
    }

    /// A client for this endpoint: path-style, static credentials, this handle's region.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        s3_client(
            &self.endpoint,
            &self.access_key,
            &self.secret_key,
            &self.region,
        )
    }

    /// Creates `name` (3–63 characters: lowercase letters, digits, `-`, `.`), or does
    /// nothing if it exists and is ours.
    pub async fn create_bucket(&self, name: &str) -> Result<(), StackError> {
        validate_bucket_name(name)?;
        let client = self.client().await;
        if client.head_bucket().bucket(name).send().await.is_ok() {
            return Ok(());
        }
        match client.create_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let owned = e
                    .as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you());
                if owned {
                    Ok(())
                } else {
                    Err(StackError::s3(
                        format!("create bucket {name} at {}", self.endpoint),
                        DisplayErrorContext(&e),
                    ))
                }
            }
        }
    }

    /// Makes the endpoint unreachable, for outage tests: the embedded server closes its
    /// listener and every open connection; a minio child is killed. The data and the port
    /// are kept for [`S3Handle::start`]. External and container endpoints answer
    /// [`StackError::Unsupported`].
    pub async fn stop(&self) -> Result<(), StackError> {
        match &self.provider {
            S3Provider::Embedded(server) => {
                server.stop().await;
                Ok(())
            }
            S3Provider::Minio(process) => process.stop().await,
            _ => Err(self.unsupported("stop")),
        }
    }

    /// Serves again on the same port with the same data after [`S3Handle::stop`].
    pub async fn start(&self) -> Result<(), StackError> {
        match &self.provider {
            S3Provider::Embedded(server) => server.start().await,
            S3Provider::Minio(process) => process.spawn_and_wait().await,
            _ => Err(self.unsupported("start")),
        }
    }

    /// The directory the embedded server or minio stores objects in (None for others).
    pub fn data_dir(&self) -> Option<&Path> {
        match &self.provider {
            S3Provider::Embedded(server) => Some(server.root()),
            S3Provider::Minio(process) => Some(process.data_dir.as_path()),
            _ => None,
        }
    }

    fn unsupported(&self, op: &'static str) -> StackError {
        StackError::Unsupported {
            op,
            provider: self.describe(),
            why: "the harness cannot stop an endpoint it does not run in-process or as a child; \
                  use --stack local for outage tests",
        }
    }
}

/// An aws-sdk-s3 client for `endpoint` with path-style addressing and static credentials.
pub fn s3_client(
    endpoint: &str,
    access_key: &str,
    secret_key: &str,
    region: &str,
) -> aws_sdk_s3::Client {
    backproof_s3::client(
        backproof_s3::Endpoint {
            url: endpoint,
            region,
            access_key,
            secret_key,
        },
        "backproof-stack",
    )
}

/// Checks S3's bucket naming rules that matter here, so a bad name fails with a reason
/// instead of an opaque 400 from the server.
pub fn validate_bucket_name(name: &str) -> Result<(), StackError> {
    let invalid = |reason| StackError::InvalidName {
        kind: "bucket",
        name: name.to_owned(),
        reason,
    };
    if !(3..=63).contains(&name.len()) {
        return Err(invalid("bucket names are 3 to 63 characters long"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err(invalid(
            "only lowercase ASCII letters, digits, '-' and '.' are allowed",
        ));
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = name.as_bytes();
    if !edge_ok(bytes[0]) || !edge_ok(bytes[bytes.len() - 1]) {
        return Err(invalid("it must start and end with a letter or digit"));
    }
    if name.contains("..") {
        return Err(invalid("it must not contain '..'"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Embedded s3s-fs server

/// The embedded S3 server: s3s + s3s-fs serving a directory over HTTP/1.1 and HTTP/2 on
/// 127.0.0.1, SigV4 enforced with one key pair. Lives as tasks on the current tokio runtime;
/// dropping it (or [`EmbeddedS3::stop`]) closes the listener and every connection.
#[derive(Debug)]
pub struct EmbeddedS3 {
    root: PathBuf,
    addr: SocketAddr,
    access_key: String,
    secret_key: String,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    // Declared last so the directory outlives the server tasks while dropping.
    _temp: Option<tempfile::TempDir>,
}

impl EmbeddedS3 {
    /// Serves `root` (created if missing) on `addr` (port 0 picks a free port).
    pub async fn start_at(
        root: &Path,
        addr: SocketAddr,
        access_key: &str,
        secret_key: &str,
    ) -> Result<EmbeddedS3, StackError> {
        std::fs::create_dir_all(root)
            .map_err(|e| StackError::io("cannot create the S3 data directory", root, e))?;
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            StackError::io(
                "cannot listen for the embedded S3 server",
                addr.to_string(),
                e,
            )
        })?;
        let addr = listener.local_addr().map_err(|e| {
            StackError::io("cannot read the embedded S3 address", addr.to_string(), e)
        })?;
        let server = EmbeddedS3 {
            root: root.to_owned(),
            addr,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            task: std::sync::Mutex::new(None),
            _temp: None,
        };
        server.spawn(listener)?;
        Ok(server)
    }

    async fn start_temp() -> Result<EmbeddedS3, StackError> {
        let temp = crate::util::scratch_tempdir("backproof-s3-")?;
        let mut server = EmbeddedS3::start_at(
            temp.path(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            EMBEDDED_ACCESS_KEY,
            EMBEDDED_SECRET_KEY,
        )
        .await?;
        server._temp = Some(temp);
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Closes the listener and all open connections; returns once they are closed.
    pub async fn stop(&self) {
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            task.abort();
            // Awaiting the aborted task guarantees the listener is dropped before we return.
            let _ = task.await;
        }
    }

    /// Listens again on the same address. A no-op when already serving.
    pub async fn start(&self) -> Result<(), StackError> {
        if self
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return Ok(());
        }
        // The port was ours a moment ago; retry briefly in case the kernel has not
        // released it yet.
        let mut last = None;
        for _ in 0..40 {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => return self.spawn(listener),
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(StackError::io(
            "cannot listen again for the embedded S3 server",
            self.addr.to_string(),
            last.unwrap_or_else(|| std::io::Error::other("bind failed")),
        ))
    }

    fn spawn(&self, listener: TcpListener) -> Result<(), StackError> {
        let service = embedded_service(&self.root, &self.access_key, &self.secret_key)?;
        let task = tokio::spawn(serve_connections(listener, service));
        *self.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        Ok(())
    }
}

impl Drop for EmbeddedS3 {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
    }
}

fn embedded_service(
    root: &Path,
    access_key: &str,
    secret_key: &str,
) -> Result<s3s::service::S3Service, StackError> {
    let fs = s3s_fs::FileSystem::new(root).map_err(|e| {
        StackError::s3(
            format!("open s3s-fs root {}", root.display()),
            format!("{e:?}"),
        )
    })?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
    Ok(builder.build())
}

/// Accepts until cancelled. Connections live in a JoinSet owned by this future, so
/// cancelling it (abort, or dropping the future) closes the listener and every connection
/// at once — an outage as clients see it.
async fn serve_connections(listener: TcpListener, service: s3s::service::S3Service) {
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                let conn = builder
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                connections.spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("embedded S3 connection ended: {e}");
                    }
                });
            }
            // Reap finished connections so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Runs the embedded S3 server on `listener` until the returned future is dropped (e.g.
/// in a `tokio::select!` with Ctrl-C), for hosting it in its own process. Objects live
/// under `root`, which is created if missing; every request must be SigV4-signed with
/// `access_key`/`secret_key`. Buckets are created by clients (or [`S3Handle::create_bucket`]).
pub async fn run_embedded_s3(
    root: &Path,
    listener: TcpListener,
    access_key: &str,
    secret_key: &str,
) -> Result<(), StackError> {
    std::fs::create_dir_all(root)
        .map_err(|e| StackError::io("cannot create the S3 data directory", root, e))?;
    let service = embedded_service(root, access_key, secret_key)?;
    serve_connections(listener, service).await;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// minio binary

#[derive(Debug)]
struct MinioProcess {
    binary: PathBuf,
    dir: tempfile::TempDir,
    data_dir: PathBuf,
    port: u16,
    console_port: u16,
    version: String,
    child: tokio::sync::Mutex<Option<tokio::process::Child>>,
}

impl MinioProcess {
    async fn start(binary: PathBuf) -> Result<MinioProcess, StackError> {
        let dir = crate::util::scratch_tempdir("backproof-minio-")?;
        let data_dir = dir.path().join("data");
        std::fs::create_dir_all(&data_dir)
            .map_err(|e| StackError::io("cannot create the minio data directory", &data_dir, e))?;
        let version = tokio::process::Command::new(&binary)
            .arg("--version")
            .output()
            .await
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .find(|w| w.starts_with("RELEASE."))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "(unknown version)".to_owned());
        let process = MinioProcess {
            binary,
            dir,
            data_dir,
            port: free_port()?,
            console_port: free_port()?,
            version,
            child: tokio::sync::Mutex::new(None),
        };
        process.spawn_and_wait().await?;
        Ok(process)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("minio.log")
    }

    async fn spawn_and_wait(&self) -> Result<(), StackError> {
        let mut slot = self.child.lock().await;
        if slot.is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| StackError::io("cannot open the minio log", self.log_path(), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| StackError::io("cannot open the minio log", self.log_path(), e))?;
        let child = tokio::process::Command::new(&self.binary)
            .arg("server")
            .arg(&self.data_dir)
            .arg("--address")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--console-address")
            .arg(format!("127.0.0.1:{}", self.console_port))
            .env("MINIO_ROOT_USER", MINIO_ACCESS_KEY)
            .env("MINIO_ROOT_PASSWORD", MINIO_SECRET_KEY)
            .env("MINIO_BROWSER", "off")
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            // Its own process group: a terminal's Ctrl-C reaches only us, and we tear it
            // down in order.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StackError::Spawn {
                program: self.binary.display().to_string(),
                source: e,
            })?;
        *slot = Some(child);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let ready = wait_until(READY_TIMEOUT, || async {
            http_status(addr, "/minio/health/live").await == Some(200)
        })
        .await;
        if !ready {
            if let Some(mut child) = slot.take() {
                let _ = child.kill().await;
            }
            return Err(StackError::NotReady {
                what: format!("minio on {addr}"),
                seconds: READY_TIMEOUT.as_secs(),
                detail: format!(":\n{}", log_tail(&self.log_path(), 20)),
            });
        }
        Ok(())
    }

    async fn stop(&self) -> Result<(), StackError> {
        if let Some(mut child) = self.child.lock().await.take() {
            child
                .kill()
                .await
                .map_err(|e| StackError::io("cannot kill minio", self.binary.clone(), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "backproof", "a-b.c", "0ab", &"a".repeat(63)] {
            validate_bucket_name(ok).unwrap();
        }
        for bad in [
            "ab",
            "",
            "Abc",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            &"a".repeat(64),
            "äbc",
        ] {
            let err = validate_bucket_name(bad).unwrap_err();
            assert!(
                matches!(err, StackError::InvalidName { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn embedded_version_matches_the_workspace_pin() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("s3s-fs = \"={EMBEDDED_S3S_FS_VERSION}\"");
        assert!(
            manifest.lines().any(|l| l.trim() == pin),
            "workspace Cargo.toml must pin {pin}"
        );
    }
}
