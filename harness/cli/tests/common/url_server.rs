//! A reference server reached only by URL, as a staging deployment would be: `backproof
//! serve` in a process of its own with a throwaway stack of its own, and tokens minted for
//! it (`--server-url --tokens` runs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::exe;

/// `backproof serve` on a port of its own with a throwaway stack of its own; stopped with
/// SIGTERM (so it removes its stack) when dropped.
pub struct UrlServer {
    child: Child,
    pub url: String,
    secret: String,
}

impl UrlServer {
    pub fn start(log: &Path) -> UrlServer {
        let secret = "run-targets-test-secret-0123456789abcdef".to_string();
        let mut child = Command::new(exe())
            .args(["serve", "--listen", "127.0.0.1:0", "--auth-secret", &secret])
            // Its own throwaway stack, whatever the environment points at.
            .env_remove("BACKPROOF_DATABASE_URL")
            .env_remove("BACKPROOF_S3_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .expect("backproof serve starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keeps reading to the end so the pipe never fills.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("http://")
                    && line.contains("listening")
                {
                    let _ = tx.send(line[i..].trim().to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "backproof serve did not say where it listens; its log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        };
        UrlServer { child, url, secret }
    }

    pub fn token(&self, user: &str) -> String {
        let out = Command::new(exe())
            .args([
                "serve",
                "token",
                "--user",
                user,
                "--auth-secret",
                &self.secret,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// One raw HTTP/1.1 request; returns the status code.
    pub fn request(&self, method: &str, token: &str, body: &[u8]) -> u16 {
        let authority = self.url.trim_start_matches("http://");
        let mut s = TcpStream::connect(authority).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "{method} /v1/backup HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        // The body is a blob (binary): read bytes, parse only the status line.
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        answer
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"))
    }
}

impl Drop for UrlServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
