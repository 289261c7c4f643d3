//! Nothing outlives `backproof run` (docs/STACK.md, "Nothing outlives a run"): killed with
//! SIGKILL (alone, or with its whole process group as a CI runner does) or stopped with
//! SIGTERM / Ctrl-C, it leaves no process carrying its marker and no temporary folder.
//! Linux only: the processes are found through /proc.
#![cfg(target_os = "linux")]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{exe, root};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

mod common;

/// Starting the stack (initdb) and the first servers on a loaded 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// Everything gone after the kill: the watchdog's sweep waits at most 30 s for processes.
const GONE_TIMEOUT: Duration = Duration::from_secs(60);

/// A `backproof run` in a process group of its own (so the test can kill the group without
/// killing itself), with a TMPDIR of its own (so "no temporary folder left" is exact).
struct Run {
    child: Option<Child>,
    pid: i32,
    tmp: PathBuf,
    log: PathBuf,
    _work: tempfile::TempDir,
}

impl Run {
    fn start(filter: &str) -> Run {
        let work = tempfile::tempdir().unwrap();
        let tmp = work.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        {
            // Postgres runs as uid 65534 under root and must reach its folder.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let log = work.path().join("stderr.log");
        let mut cmd = Command::new(exe());
        cmd.current_dir(root())
            .args(["run", "--quiet", "--filter", filter, "--report"])
            .arg(work.path().join("out/report.json"))
            .env("TMPDIR", &tmp)
            .env("DOCKER_HOST", "unix:///nonexistent/backproof/docker.sock")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("BACKPROOF_") {
                cmd.env_remove(name);
            }
        }
        let child = cmd.spawn().unwrap();
        let pid = child.id() as i32;
        Run {
            child: Some(child),
            pid,
            tmp,
            log,
            _work: work,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The run id, from the name of the run's folder in TMPDIR.
    fn id(&self) -> Option<String> {
        entries(&self.tmp)
            .iter()
            .find_map(|n| n.strip_prefix("backproof-run-").map(str::to_owned))
    }

    /// Waits until the run has a PostgreSQL cluster and at least one server running.
    fn wait_for_stack_and_servers(&mut self) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(id) = self.id() {
                let procs = marked(&id, &self.tmp);
                let postgres = procs.iter().any(|p| p.comm == "postgres");
                let servers = procs
                    .iter()
                    .filter(|p| p.cmdline.contains(&"serve".to_owned()))
                    .count();
                if postgres && servers > 0 {
                    return id;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the run ended ({status}) before servers were seen\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no Postgres and server within {START_TIMEOUT:?}\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + GONE_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {GONE_TIMEOUT:?} after the signal\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Nothing marked is alive, no process works in TMPDIR, and TMPDIR is empty.
    fn assert_clean(&self, id: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = marked(id, &self.tmp);
            let files = entries(&self.tmp);
            if left.is_empty() && files.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "after {within:?}: processes {left:#?}, files in TMPDIR {files:?}\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        // A failed test must not leave the run going.
        if let Some(mut c) = self.child.take() {
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Debug)]
#[allow(dead_code)]
struct Proc {
    pid: i32,
    comm: String,
    cmdline: Vec<String>,
}

/// Live (not zombie) processes whose environment carries BACKPROOF_RUN_ID=<id> or whose
/// working directory is under `tmp` (PostgreSQL backends overwrite their environment).
fn marked(id: &str, tmp: &Path) -> Vec<Proc> {
    let marker = format!("BACKPROOF_RUN_ID={id}");
    let tmp = tmp.canonicalize().unwrap_or_else(|_| tmp.to_path_buf());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let state = stat[close + 1..].split_whitespace().next().unwrap_or("");
        if state == "Z" || state == "X" {
            continue;
        }
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let in_env = env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes());
        let in_tmp =
            std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&tmp));
        if in_env || in_tmp {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            out.push(Proc {
                pid,
                comm: stat[open + 1..close].to_owned(),
                cmdline: cmdline
                    .split(|b| *b == 0)
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            });
        }
    }
    out
}

/// The watchdog's process (it carries no marker: it is found by its command line).
fn watchdog_alive(id: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        let pid = e.file_name();
        let cmdline =
            std::fs::read(Path::new("/proc").join(&pid).join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline);
        text.contains("watchdog") && text.contains(id) && {
            let pid = pid.to_string_lossy().parse::<i32>().unwrap_or(0);
            backproof_stack::process_alive(pid)
        }
    })
}

/// SIGKILL: nothing tears down in the run; the watchdog must find and stop all of it.
fn killed(group: bool) {
    let mut run = Run::start("conflict/*");
    let id = run.wait_for_stack_and_servers();
    let before = marked(&id, &run.tmp);
    if group {
        killpg(Pid::from_raw(run.pid), Signal::SIGKILL).unwrap();
    } else {
        kill(Pid::from_raw(run.pid), Signal::SIGKILL).unwrap();
    }
    let status = run.wait();
    assert_eq!(status.code(), None, "killed: {status}");
    run.assert_clean(&id, GONE_TIMEOUT);
    let deadline = Instant::now() + GONE_TIMEOUT;
    while watchdog_alive(&id) {
        assert!(Instant::now() < deadline, "the watchdog does not exit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = run.stderr();
    assert!(
        log.contains(&format!(
            "backproof watchdog: run {id} ended without tearing down"
        )) && log.contains("stopped 1 PostgreSQL cluster(s)"),
        "the watchdog says what it did; before the kill: {before:#?}\n{log}"
    );
}

#[test]
fn sigkill_of_the_run_leaves_nothing_behind() {
    killed(false);
}

#[test]
fn sigkill_of_the_run_and_its_process_group_leaves_nothing_behind() {
    killed(true);
}

/// SIGTERM (a CI timeout, `kill PID`) or Ctrl-C (SIGINT to the whole foreground group):
/// the run tears down, exits 143 or 130, and is clean the moment it has exited.
fn interrupted(signal: Signal, group: bool, code: i32) {
    let mut run = Run::start("conflict/*");
    let id = run.wait_for_stack_and_servers();
    if group {
        killpg(Pid::from_raw(run.pid), signal).unwrap();
    } else {
        kill(Pid::from_raw(run.pid), signal).unwrap();
    }
    let status = run.wait();
    let log = run.stderr();
    assert_eq!(status.code(), Some(code), "{status}\n{log}");
    assert!(
        log.contains(&format!("backproof: interrupted by {}", signal.as_str())),
        "the run's own teardown ran\n{log}"
    );
    run.assert_clean(&id, Duration::ZERO);
}

#[test]
fn sigterm_tears_the_run_down_and_exits_143() {
    interrupted(Signal::SIGTERM, false, 143);
}

#[test]
fn ctrl_c_tears_the_run_down_and_exits_130() {
    interrupted(Signal::SIGINT, true, 130);
}
