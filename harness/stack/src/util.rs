//! Small helpers shared by the providers: free ports, readiness probes, Docker detection.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::StackError;

/// A port on 127.0.0.1 that nothing listens on right now. The kernel picks it, so two
/// stacks started at once get different ports; the short window before the real server
/// binds it is accepted (the server's start fails loudly if it is lost).
pub(crate) fn free_port() -> Result<u16, StackError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let listener = TcpListener::bind(addr)
        .map_err(|e| StackError::io("cannot bind a free port on 127.0.0.1", "127.0.0.1:0", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| StackError::io("cannot read a bound port", "127.0.0.1:0", e))?
        .port();
    Ok(port)
}

/// The variable that names the folder for throwaway data (clusters, buckets, a run's
/// folder), overriding the choice of [`scratch_dir`].
pub const SCRATCH_DIR_VAR: &str = "BACKPROOF_SCRATCH_DIR";

/// Free space `/dev/shm` must have before throwaway data goes there: a run keeps one
/// database per running case (dropped when the case ends), a few hundred MB of WAL and
/// small buckets; the margin keeps a full tmpfs from ever failing a case.
const SHM_MIN_FREE: u64 = 2 << 30;

/// Where throwaway data goes. A cluster whose every case creates a database, and a run
/// that removes tens of thousands of files at its end, are bound by file-system metadata
/// work; on a busy disk that was most of a run's wall time (a CREATE DATABASE took over a
/// second, the final clean-up half a minute). So: `$BACKPROOF_SCRATCH_DIR` if set; else
/// `$TMPDIR` if set (a user's choice, and inside a run the run's own folder, which the
/// supervisor points it at so the sweep removes everything); else `/dev/shm` when it is a
/// writable tmpfs with 2 GiB free (a container's default 64 MB is not); else `/tmp`.
pub fn scratch_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(SCRATCH_DIR_VAR).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if std::env::var_os("TMPDIR").is_some_and(|d| !d.is_empty()) {
        return std::env::temp_dir();
    }
    let shm = Path::new("/dev/shm");
    let roomy = nix::sys::statvfs::statvfs(shm)
        .is_ok_and(|st| st.blocks_available().saturating_mul(st.fragment_size()) >= SHM_MIN_FREE);
    if roomy && nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok() {
        return shm.to_path_buf();
    }
    std::env::temp_dir()
}

/// A fresh temporary directory under [`scratch_dir`], removed when dropped.
pub(crate) fn scratch_tempdir(prefix: &str) -> Result<tempfile::TempDir, StackError> {
    let parent = scratch_dir();
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&parent)
        .map_err(|e| StackError::io("cannot create a temporary directory", parent, e))
}

/// Status code of `GET path` on `addr`, or None when nothing answers.
pub(crate) async fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let mut len = 0;
        while len < 12 {
            let n = stream.read(&mut head[len..]).await.ok()?;
            if n == 0 {
                break;
            }
            len += n;
        }
        let line = std::str::from_utf8(&head[..len]).ok()?;
        // "HTTP/1.1 200 OK"
        line.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), probe)
        .await
        .ok()
        .flatten()
}

/// The last `n` lines of a log file, for error messages.
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => tail_lines(&text, n),
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// Where a Docker engine answers, if anywhere: `DOCKER_HOST` when set, else the usual
/// socket paths. Probed with a real connect, because a stale socket file (engine stopped)
/// is common and testcontainers would otherwise fail later with a less useful error.
pub fn docker_engine() -> Result<String, StackError> {
    if let Ok(host) = std::env::var("DOCKER_HOST")
        && !host.is_empty()
    {
        return probe_docker_host(&host).map(|()| host);
    }
    let mut candidates = vec![PathBuf::from("/var/run/docker.sock")];
    if let Ok(dir) = std::env::var("XDG_RUNTIME_DIR") {
        candidates.push(Path::new(&dir).join("docker.sock"));
    }
    if let Ok(home) = std::env::var("HOME") {
        candidates.push(Path::new(&home).join(".docker/run/docker.sock"));
    }
    let mut tried = Vec::new();
    for path in &candidates {
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Ok(format!("unix://{}", path.display())),
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    Err(StackError::DockerUnavailable {
        detail: format!("DOCKER_HOST is not set; tried {}", tried.join("; ")),
    })
}

fn probe_docker_host(host: &str) -> Result<(), StackError> {
    let unavailable = |detail: String| StackError::DockerUnavailable { detail };
    if let Some(path) = host.strip_prefix("unix://") {
        std::os::unix::net::UnixStream::connect(path)
            .map(drop)
            .map_err(|e| unavailable(format!("DOCKER_HOST={host}: {e}")))
    } else if let Some(rest) = host.strip_prefix("tcp://") {
        let authority = rest.split('/').next().unwrap_or(rest);
        let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(authority)
            .map_err(|e| unavailable(format!("DOCKER_HOST={host}: {e}")))?
            .collect();
        let mut last = String::from("no address");
        for addr in addrs {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(unavailable(format!("DOCKER_HOST={host}: {last}")))
    } else {
        Err(unavailable(format!(
            "DOCKER_HOST={host}: expected unix:///path or tcp://host:port"
        )))
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub(crate) async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
        assert_eq!(tail_lines("", 3), "");
    }

    #[test]
    fn malformed_docker_host_is_rejected_with_the_expected_forms() {
        let err = probe_docker_host("npipe:////./pipe/docker").unwrap_err();
        assert!(err.to_string().contains("expected unix:///path"), "{err}");
        let err = probe_docker_host("unix:///nonexistent/backproof/docker.sock").unwrap_err();
        assert!(matches!(err, StackError::DockerUnavailable { .. }), "{err}");
    }

    #[tokio::test]
    async fn free_port_is_bindable_and_probe_sees_nothing_there() {
        let port = free_port().unwrap();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert_eq!(http_status(addr, "/").await, None);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), port);
    }
}
