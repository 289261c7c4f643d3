//! The client's crash-surviving state: the last version each server acknowledged to this
//! client, per server and user. It lets `backup` update with `If-Match` instead of
//! creating, and survives a kill of the client process at any point because every write
//! is a whole new file renamed over the old one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::Server;
use crate::error::ClientError;

/// A directory of small JSON files, one per (server URL, token).
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    server: String,
    version: u64,
}

impl StateStore {
    /// Opens (creating if needed) the state directory.
    pub fn open(dir: &Path) -> Result<StateStore, ClientError> {
        fs::create_dir_all(dir).map_err(|source| ClientError::State {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(StateStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, server: &Server) -> PathBuf {
        // The token names the user; it is hashed so that no credential lands on disk.
        let mut h = Sha256::new();
        h.update(server.url.trim_end_matches('/').as_bytes());
        h.update([0u8]);
        h.update(server.token.as_bytes());
        let digest = h.finalize();
        self.dir
            .join(format!("server-{}.json", hex::encode(&digest[..16])))
    }

    /// The last acknowledged version, if any. A file that does not parse (edited by hand) is
    /// treated as absent: the next backup then creates, gets 409 and merges, which is safe.
    pub fn load(&self, server: &Server) -> Result<Option<u64>, ClientError> {
        let path = self.file(server);
        match fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Entry>(&bytes) {
                Ok(e) => Ok(Some(e.version)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), %err, "ignoring unreadable state file");
                    Ok(None)
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ClientError::State { path, source }),
        }
    }

    /// Records `version` as acknowledged: temp file, fsync, rename, fsync of the directory.
    pub fn store(&self, server: &Server, version: u64) -> Result<(), ClientError> {
        let path = self.file(server);
        let entry = Entry {
            server: server.url.clone(),
            version,
        };
        let body = serde_json::to_vec(&entry).map_err(|e| ClientError::State {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        let tmp = self.dir.join(format!(
            ".{}.tmp-{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
            std::process::id()
        ));
        let io = |source| ClientError::State {
            path: tmp.clone(),
            source,
        };
        {
            let mut f = fs::File::create(&tmp).map_err(io)?;
            f.write_all(&body).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        fs::rename(&tmp, &path).map_err(|source| ClientError::State {
            path: path.clone(),
            source,
        })?;
        self.sync_dir();
        Ok(())
    }

    /// Forgets the server's version (after a delete).
    pub fn clear(&self, server: &Server) -> Result<(), ClientError> {
        let path = self.file(server);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.sync_dir();
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(ClientError::State { path, source }),
        }
    }

    fn sync_dir(&self) {
        // Best effort: the rename is what matters for atomicity; the directory fsync only
        // makes it durable across a power loss, and some filesystems refuse it.
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str, token: &str) -> Server {
        Server {
            url: url.into(),
            token: token.into(),
        }
    }

    #[test]
    fn store_load_clear_per_server_and_user() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(&dir.path().join("nested")).unwrap();
        let a = server("http://127.0.0.1:1", "tok-a");
        let b = server("http://127.0.0.1:1", "tok-b");
        assert_eq!(s.load(&a).unwrap(), None);
        s.store(&a, 3).unwrap();
        s.store(&b, 9).unwrap();
        s.store(&a, 4).unwrap();
        // A second store over the same directory (a restarted process) sees the same.
        let s2 = StateStore::open(&dir.path().join("nested")).unwrap();
        assert_eq!(s2.load(&a).unwrap(), Some(4));
        assert_eq!(s2.load(&b).unwrap(), Some(9));
        assert_eq!(
            s2.load(&server("http://127.0.0.1:1/", "tok-a")).unwrap(),
            Some(4)
        );
        s2.clear(&a).unwrap();
        assert_eq!(s.load(&a).unwrap(), None);
        assert_eq!(s.load(&b).unwrap(), Some(9));
        // No temp files left behind, and no token in any file.
        for e in fs::read_dir(s.dir()).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            assert!(!name.starts_with('.'), "leftover {name}");
            let text = fs::read_to_string(e.path()).unwrap();
            assert!(!text.contains("tok-"), "token leaked into {name}");
        }
    }

    #[test]
    fn garbage_file_reads_as_absent() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open(dir.path()).unwrap();
        let a = server("http://x", "t");
        s.store(&a, 1).unwrap();
        let file = s.file(&a);
        fs::write(&file, b"{not json").unwrap();
        assert_eq!(s.load(&a).unwrap(), None);
    }
}
