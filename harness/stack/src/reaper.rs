//! What a run leaves behind when it cannot tear itself down (killed, crashed, cancelled by
//! CI): every process it started carries the run's marker in its environment
//! (`BACKPROOF_RUN_ID=<id>`), every temporary directory lives in the run's own folder
//! (`$TMPDIR/backproof-run-<id>/`). [`sweep`] finds those processes, stops PostgreSQL
//! clusters the way `pg_ctl stop -m immediate` does (SIGQUIT to the postmaster), kills the
//! rest, waits for them to go and removes the folder (docs/STACK.md, "Nothing outlives a
//! run").
//!
//! Processes are found through `/proc`, so on Linux only; elsewhere a sweep finds none and
//! only removes the folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::StackError;

/// The environment variable every process of a run inherits; its value is the run id.
pub const RUN_ID_VAR: &str = "BACKPROOF_RUN_ID";

/// The prefix of a run's folder in `$TMPDIR`; the rest of the name is the run id.
pub const RUN_DIR_PREFIX: &str = "backproof-run-";

/// How long a postmaster gets to stop its backends after SIGQUIT before it is killed too.
const POSTMASTER_GRACE: Duration = Duration::from_secs(5);

/// A run's identity: the marker its processes carry and the folder its temporary
/// directories go to.
#[derive(Debug, Clone)]
pub struct RunScope {
    pub id: String,
    pub dir: PathBuf,
}

impl RunScope {
    /// Creates `backproof-run-<id>/` with a fresh random id in the scratch folder
    /// ([`crate::scratch_dir`]). Mode 0755, because the
    /// throwaway cluster's directory inside it belongs to uid 65534 when we are root, and
    /// that user must be able to reach it.
    pub fn create() -> Result<RunScope, StackError> {
        use std::os::unix::fs::PermissionsExt;
        let tmp = crate::util::scratch_dir();
        let dir = tempfile::Builder::new()
            .prefix(RUN_DIR_PREFIX)
            .rand_bytes(12)
            .permissions(std::fs::Permissions::from_mode(0o755))
            .tempdir_in(&tmp)
            .map_err(|e| StackError::io("cannot create the run's temporary folder", &tmp, e))?
            // Removed by the sweep, after every process that may still write into it is gone.
            .keep();
        let id = dir
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(RUN_DIR_PREFIX))
            .unwrap_or_default()
            .to_owned();
        Ok(RunScope { id, dir })
    }

    /// The `NAME=value` entry the run's processes carry.
    pub fn marker(&self) -> String {
        format!("{RUN_ID_VAR}={}", self.id)
    }
}

/// What a sweep found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sweep {
    /// Postmasters sent SIGQUIT (immediate shutdown).
    pub postmasters: Vec<i32>,
    /// Other processes killed (SIGKILL, with their process group when they lead one).
    pub killed: Vec<i32>,
    /// Processes still alive when the sweep gave up waiting.
    pub survivors: Vec<i32>,
    /// Whether the run's folder existed and was removed.
    pub removed_dir: bool,
}

impl Sweep {
    /// Whether the sweep had anything to do besides removing the folder.
    pub fn found_processes(&self) -> bool {
        !self.postmasters.is_empty() || !self.killed.is_empty() || !self.survivors.is_empty()
    }
}

/// One process of the run, as `/proc` shows it.
#[derive(Debug, Clone)]
struct Proc {
    pid: i32,
    ppid: i32,
    pgid: i32,
    comm: String,
}

/// Stops every process of `scope` (except `exclude` and the caller), waits at most
/// `timeout` for them to go, then removes the run's folder. Safe to call more than once.
pub fn sweep(scope: &RunScope, exclude: &[i32], timeout: Duration) -> Result<Sweep, StackError> {
    let mut exclude: BTreeSet<i32> = exclude.iter().copied().collect();
    exclude.insert(std::process::id() as i32);
    let dir = scope
        .dir
        .canonicalize()
        .unwrap_or_else(|_| scope.dir.clone());
    let marker = scope.marker();
    let mut out = Sweep::default();
    let mut quit_at: BTreeMap<i32, Instant> = BTreeMap::new();
    let mut killed: BTreeSet<i32> = BTreeSet::new();
    let deadline = Instant::now() + timeout;
    loop {
        let procs = run_processes(&marker, &dir, &exclude);
        if procs.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            out.survivors = procs.iter().map(|p| p.pid).collect();
            break;
        }
        let postgres: BTreeSet<i32> = procs
            .iter()
            .filter(|p| p.comm == "postgres" || p.comm == "postmaster")
            .map(|p| p.pid)
            .collect();
        for p in &procs {
            let is_postgres = postgres.contains(&p.pid);
            let postmaster = is_postgres && !postgres.contains(&p.ppid);
            if postmaster {
                // SIGQUIT is an immediate shutdown: the postmaster stops its backends and
                // removes its pid file and socket. One that ignores it is killed later.
                match quit_at.get(&p.pid) {
                    None => {
                        let _ = kill(Pid::from_raw(p.pid), Signal::SIGQUIT);
                        quit_at.insert(p.pid, Instant::now());
                        out.postmasters.push(p.pid);
                    }
                    Some(at) if at.elapsed() >= POSTMASTER_GRACE => {
                        let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
                    }
                    Some(_) => {}
                }
                continue;
            }
            // A backend goes with its postmaster; an orphaned one (postmaster already gone)
            // is killed like everything else.
            if is_postgres && quit_at.contains_key(&p.ppid) {
                continue;
            }
            // The group too: a server started by a wrapper script leads a group of its own,
            // and a child that dropped its environment is still in it.
            if p.pgid == p.pid && p.pgid > 1 && !exclude.contains(&p.pgid) {
                let _ = killpg(Pid::from_raw(p.pgid), Signal::SIGKILL);
            }
            let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            if killed.insert(p.pid) {
                out.killed.push(p.pid);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    match std::fs::remove_dir_all(&scope.dir) {
        Ok(()) => out.removed_dir = true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(StackError::io(
                "cannot remove the run's temporary folder",
                &scope.dir,
                e,
            ));
        }
    }
    Ok(out)
}

/// Every live process of the run: its environment carries `marker`, or its working
/// directory is inside `dir` (PostgreSQL's backends overwrite their environment with their
/// process title, but all of them work in the cluster's data directory).
fn run_processes(marker: &str, dir: &Path, exclude: &BTreeSet<i32>) -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if exclude.contains(&pid) {
            continue;
        }
        let Some(proc) = stat(pid) else { continue };
        if belongs(pid, marker, dir) {
            out.push(proc);
        }
    }
    out
}

fn belongs(pid: i32, marker: &str, dir: &Path) -> bool {
    let in_env = std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()));
    in_env || std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(dir))
}

/// Parent, process group and command name of a live (not zombie) process.
fn stat(pid: i32) -> Option<Proc> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid pgrp ..."; comm may contain spaces and parentheses.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let ppid = rest.next()?.parse().ok()?;
    let pgid = rest.next()?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        pgid,
        comm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_folder_is_named_after_the_id_and_reachable_by_others() {
        use std::os::unix::fs::PermissionsExt;
        let scope = RunScope::create().unwrap();
        assert_eq!(scope.id.len(), 12, "{scope:?}");
        assert!(
            scope.id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{scope:?}"
        );
        let mode = std::fs::metadata(&scope.dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(scope.marker(), format!("BACKPROOF_RUN_ID={}", scope.id));
        let swept = sweep(&scope, &[], Duration::from_secs(5)).unwrap();
        assert!(swept.removed_dir && !swept.found_processes(), "{swept:?}");
        assert!(!scope.dir.exists());
        // A second sweep has nothing left to do.
        let again = sweep(&scope, &[], Duration::from_secs(5)).unwrap();
        assert_eq!(again, Sweep::default());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sweep_kills_marked_processes_and_those_working_in_the_folder_only() {
        use std::os::unix::process::CommandExt;
        use std::process::{Command, Stdio};
        let scope = RunScope::create().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let grandchild_pid = elsewhere.path().join("pid");
        std::fs::write(scope.dir.join("file"), b"x").unwrap();
        let spawn = |cmd: &mut Command| {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        // Marked by its environment, in a group of its own with an unmarked child.
        let mut marked = spawn(
            Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "env -u BACKPROOF_RUN_ID sleep 600 & echo $! > '{}'; wait",
                    grandchild_pid.display()
                ))
                .env(RUN_ID_VAR, &scope.id)
                .process_group(0),
        );
        // Marked by its working directory only.
        let mut inside = spawn(Command::new("sleep").arg("600").current_dir(&scope.dir));
        // Another run's marker, and no marker at all: both must survive.
        let mut other = spawn(
            Command::new("sleep")
                .arg("600")
                .env(RUN_ID_VAR, format!("{}x", scope.id)),
        );
        let mut plain = spawn(Command::new("sleep").arg("600"));
        let grandchild = loop {
            if let Some(pid) = std::fs::read_to_string(&grandchild_pid)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            {
                break pid;
            }
            assert!(
                marked.try_wait().unwrap().is_none(),
                "the wrapper died early"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // Until `env` has exec'd `sleep`, the grandchild is a fork of the marked shell and
        // still carries the marker in its environment: wait for it to shed it, or a loaded
        // machine sweeps it as marked.
        let until = Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(format!("/proc/{grandchild}/comm"))
            .is_ok_and(|c| c.trim() != "sleep")
        {
            assert!(Instant::now() < until, "the grandchild never became sleep");
            std::thread::sleep(Duration::from_millis(20));
        }

        let swept = sweep(&scope, &[], Duration::from_secs(20)).unwrap();
        let mut killed = swept.killed.clone();
        killed.sort();
        let mut expected = vec![marked.id() as i32, inside.id() as i32];
        expected.sort();
        assert_eq!(killed, expected, "{swept:?}");
        assert!(swept.survivors.is_empty() && swept.removed_dir, "{swept:?}");
        assert!(
            marked.wait().unwrap().code().is_none(),
            "killed by a signal"
        );
        assert!(
            inside.wait().unwrap().code().is_none(),
            "killed by a signal"
        );
        // Not waited for by the sweep (it is not marked): SIGKILL is delivered, but the
        // exit may take a moment on a busy machine.
        let until = Instant::now() + Duration::from_secs(20);
        while crate::process_alive(grandchild) {
            assert!(
                Instant::now() < until,
                "the unmarked child in the marked group is killed with it"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            other.try_wait().unwrap().is_none(),
            "another run's process lives"
        );
        assert!(
            plain.try_wait().unwrap().is_none(),
            "an unmarked process lives"
        );
        let _ = other.kill();
        let _ = plain.kill();
        let _ = other.wait();
        let _ = plain.wait();
    }
}
