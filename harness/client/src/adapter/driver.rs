//! The driving side: starts an adapter as a child process and exchanges JSON Lines with
//! it, with a timeout on every call. A child that does not answer in time is killed (its
//! whole process group), so a hanging implementation is reported, never waited for.
//!
//! Synchronous on purpose: callers in async code run it in `spawn_blocking`; the threads
//! below carry the pipes so that a timeout holds even when the child stops reading.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::protocol::{self, HelloResult, clip};

/// Default time allowed for `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the child's stderr is kept for diagnostics.
const STDERR_TAIL_BYTES: usize = 16 * 1024;

/// An error answer from the adapter: the operation failed with a class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class}: {message}")]
pub struct AdapterError {
    /// The class the adapter reported (a string: an unknown class is a finding, not a crash).
    pub class: String,
    /// The adapter's sentence.
    pub message: String,
    /// `recover` → `wrong_key`: the candidate ids tried, when the adapter lists them.
    pub tried: Option<Vec<String>>,
}

impl AdapterError {
    /// The class, if it is one of the closed list.
    pub fn known_class(&self) -> Option<backproof_format::ErrorClass> {
        self.class.parse().ok()
    }
}

/// The exchange itself failed: the adapter is broken, not the operation.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The command line is empty or has an unbalanced quote.
    #[error("bad adapter command {cmd:?}: {detail}")]
    BadCommand {
        /// The command.
        cmd: String,
        /// Why.
        detail: String,
    },
    /// The program could not be started.
    #[error("cannot start adapter {cmd:?}: {source}")]
    Spawn {
        /// The command.
        cmd: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// No answer within the timeout; the child was killed.
    #[error(
        "adapter did not answer `{op}` within {timeout:?}; it was killed{}",
        tail(stderr)
    )]
    Timeout {
        /// The op sent.
        op: String,
        /// The time allowed.
        timeout: Duration,
        /// The end of its stderr.
        stderr: String,
    },
    /// The child closed stdout or exited before answering.
    #[error("adapter exited ({status}) before answering `{op}`{}", tail(stderr))]
    Exited {
        /// The op sent.
        op: String,
        /// How it exited, as text.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The child answered something that is not a valid answer to this request.
    #[error("adapter broke the protocol answering `{op}`: {detail}")]
    Protocol {
        /// The op sent.
        op: String,
        /// What was wrong.
        detail: String,
    },
    /// The process was killed earlier (timeout or `kill()`); restart it first.
    #[error("adapter is not running (killed after an earlier failure); restart it")]
    NotRunning,
    /// Pipe I/O failed.
    #[error("adapter I/O: {0}")]
    Io(#[from] std::io::Error),
}

fn tail(stderr: &str) -> String {
    let t = stderr.trim();
    if t.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with: {t}")
    }
}

enum Line {
    Text(String),
    Eof,
    Err(std::io::Error),
}

struct Running {
    child: Child,
    lines: Receiver<Line>,
    requests: Option<Sender<Vec<u8>>>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
    /// Disconnects when the stderr reader has seen EOF.
    stderr_done: Receiver<()>,
}

/// A client under test, as a child process speaking the adapter protocol.
#[derive(Debug)]
pub struct AdapterProcess {
    cmd: String,
    state_dir: Option<PathBuf>,
    running: Option<Running>,
    next_id: u64,
    hello: Option<HelloResult>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("pid", &self.child.id())
            .finish_non_exhaustive()
    }
}

/// Splits a command line like a POSIX shell does for plain words and quotes. Returns
/// `None` when the line uses shell syntax (pipes, redirections, variables, ...) that needs
/// a real shell.
pub fn split_command(cmd: &str) -> Result<Option<Vec<String>>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unbalanced single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unbalanced double quote".into()),
                        },
                        Some('$' | '`') => return Ok(None),
                        Some(c) => cur.push(c),
                        None => return Err("unbalanced double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '|' | '&' | ';' | '<' | '>' | '(' | ')' | '$' | '`' | '*' | '?' | '[' | '#' | '~'
            | '{' | '}' => return Ok(None),
            '=' if !in_word && words.is_empty() => return Ok(None),
            c => {
                in_word = true;
                cur.push(c);
            }
        }
        // `VAR=value cmd` needs a shell too.
        if words.is_empty() && in_word && cur.contains('=') && !cur.starts_with('-') {
            return Ok(None);
        }
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(Some(words))
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl AdapterProcess {
    /// Starts `cmd` (split into words, or run by `sh -c` when it uses shell syntax) with
    /// `--state-dir DIR` appended when `state_dir` is given (and `BACKPROOF_STATE_DIR` set in
    /// its environment). The child runs in its own process group so that `kill` takes down
    /// whatever it started too. Its stderr is kept (the last 16 KiB) for error messages.
    pub fn spawn(cmd: &str, state_dir: Option<&Path>) -> Result<AdapterProcess, DriverError> {
        let mut p = AdapterProcess {
            cmd: cmd.to_string(),
            state_dir: state_dir.map(Path::to_path_buf),
            running: None,
            next_id: 1,
            hello: None,
        };
        p.start()?;
        Ok(p)
    }

    fn start(&mut self) -> Result<(), DriverError> {
        use std::os::unix::process::CommandExt;
        let words = split_command(&self.cmd).map_err(|detail| DriverError::BadCommand {
            cmd: self.cmd.clone(),
            detail,
        })?;
        let mut command = match words {
            Some(words) => {
                let mut c = Command::new(&words[0]);
                c.args(&words[1..]);
                if let Some(d) = &self.state_dir {
                    c.arg("--state-dir").arg(d);
                }
                c
            }
            None => {
                let mut line = self.cmd.clone();
                if let Some(d) = &self.state_dir {
                    line.push_str(" --state-dir ");
                    line.push_str(&shell_quote(&d.to_string_lossy()));
                }
                let mut c = Command::new("sh");
                c.arg("-c").arg(line);
                c
            }
        };
        if let Some(d) = &self.state_dir {
            command.env("BACKPROOF_STATE_DIR", d);
        }
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|source| DriverError::Spawn {
            cmd: self.cmd.clone(),
            source,
        })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout pipe"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("no stdin pipe"))?;
        let stderr_pipe = child
            .stderr
            .take()
            .ok_or_else(|| std::io::Error::other("no stderr pipe"))?;

        let (line_tx, line_rx) = mpsc::channel();
        thread::Builder::new()
            .name("adapter-stdout".into())
            .spawn(move || read_lines(stdout, line_tx))?;
        let (req_tx, req_rx) = mpsc::channel::<Vec<u8>>();
        thread::Builder::new()
            .name("adapter-stdin".into())
            .spawn(move || write_requests(stdin, req_rx))?;
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let sink = Arc::clone(&stderr);
        let (done_tx, stderr_done) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("adapter-stderr".into())
            .spawn(move || {
                keep_tail(stderr_pipe, sink);
                drop(done_tx);
            })?;
        self.running = Some(Running {
            child,
            lines: line_rx,
            requests: Some(req_tx),
            stderr,
            stderr_done,
        });
        self.hello = None;
        Ok(())
    }

    /// The command this adapter was started with.
    pub fn command(&self) -> &str {
        &self.cmd
    }

    /// The state directory passed on every start.
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// The child's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.as_ref().map(|r| r.child.id())
    }

    /// Whether the child is still alive.
    pub fn is_running(&mut self) -> bool {
        match self.running.as_mut() {
            Some(r) => matches!(r.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The last bytes the child wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        match &self.running {
            Some(r) => stderr_text(&r.stderr),
            None => String::new(),
        }
    }

    /// Sends `hello` (timeout [`HELLO_TIMEOUT`]) and keeps its answer for
    /// [`AdapterProcess::hello_info`]. An error answer to `hello` is a protocol violation.
    pub fn hello(&mut self) -> Result<HelloResult, DriverError> {
        self.hello_with_timeout(HELLO_TIMEOUT)
    }

    /// [`AdapterProcess::hello`] with a chosen timeout.
    pub fn hello_with_timeout(&mut self, timeout: Duration) -> Result<HelloResult, DriverError> {
        let answer = self.call("hello", Value::Object(Default::default()), timeout)?;
        let result = answer.map_err(|e| DriverError::Protocol {
            op: "hello".into(),
            detail: format!("`hello` must succeed, got error {e}"),
        })?;
        let hello: HelloResult =
            serde_json::from_value(result).map_err(|e| DriverError::Protocol {
                op: "hello".into(),
                detail: format!("bad hello result: {e}"),
            })?;
        self.hello = Some(hello.clone());
        Ok(hello)
    }

    /// The last `hello` answer since the child was (re)started.
    pub fn hello_info(&self) -> Option<&HelloResult> {
        self.hello.as_ref()
    }

    /// Sends `{"id": N, "op": op, ...fields}` and waits at most `timeout` for the answer.
    /// `fields` must be a JSON object (or null). Returns the `result` object, or the
    /// adapter's error answer; a timeout kills the child and returns
    /// [`DriverError::Timeout`].
    pub fn call(
        &mut self,
        op: &str,
        fields: Value,
        timeout: Duration,
    ) -> Result<Result<Value, AdapterError>, DriverError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = match fields {
            Value::Object(m) => m,
            Value::Null => Default::default(),
            other => {
                return Err(DriverError::Protocol {
                    op: op.into(),
                    detail: format!("request fields must be a JSON object, not {other}"),
                });
            }
        };
        request.insert("id".into(), Value::from(id));
        request.insert("op".into(), Value::from(op));
        let mut line = serde_json::to_vec(&Value::Object(request))
            .map_err(|e| DriverError::Io(std::io::Error::other(e)))?;
        line.push(b'\n');
        self.call_raw_line(op, id, line, timeout)
    }

    /// Sends an arbitrary line (tests of an adapter's robustness) and returns the raw
    /// answer object, without checking its id.
    pub fn send_raw(&mut self, line: &str, timeout: Duration) -> Result<Value, DriverError> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send_bytes(&bytes)?;
        self.receive("raw", timeout)
    }

    fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), DriverError> {
        let running = self.running.as_mut().ok_or(DriverError::NotRunning)?;
        let tx = running.requests.as_ref().ok_or(DriverError::NotRunning)?;
        if tx.send(bytes.to_vec()).is_err() {
            // The writer thread ended: the child closed stdin. The answer (or EOF) tells more.
            tracing::debug!("adapter stdin closed");
        }
        Ok(())
    }

    fn receive(&mut self, op: &str, timeout: Duration) -> Result<Value, DriverError> {
        let deadline = Instant::now() + timeout;
        let running = self.running.as_mut().ok_or(DriverError::NotRunning)?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match running.lines.recv_timeout(left) {
                Ok(Line::Text(t)) if t.trim().is_empty() => continue,
                Ok(Line::Text(t)) => {
                    return serde_json::from_str::<Value>(&t).map_err(|e| DriverError::Protocol {
                        op: op.into(),
                        detail: format!("answer line is not JSON ({e}): {}", clip(&t)),
                    });
                }
                Ok(Line::Err(e)) => return Err(DriverError::Io(e)),
                Ok(Line::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    let status = wait_briefly(&mut running.child);
                    // Stdout's EOF can overtake the last stderr bytes of a child that has just
                    // exited: let the stderr reader drain its pipe before taking the tail.
                    let _ = running.stderr_done.recv_timeout(Duration::from_secs(2));
                    let stderr = self.stderr_tail_and_stop();
                    return Err(DriverError::Exited {
                        op: op.into(),
                        status,
                        stderr,
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    let stderr = self.stderr_tail_and_stop();
                    return Err(DriverError::Timeout {
                        op: op.into(),
                        timeout,
                        stderr,
                    });
                }
            }
        }
    }

    fn call_raw_line(
        &mut self,
        op: &str,
        id: u64,
        line: Vec<u8>,
        timeout: Duration,
    ) -> Result<Result<Value, AdapterError>, DriverError> {
        self.send_bytes(&line)?;
        let answer = self.receive(op, timeout)?;
        check_answer(op, id, &answer)
    }

    /// Kills the child (and its process group) and reaps it. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut r) = self.running.take() {
            kill_group(&mut r.child);
            r.requests.take();
            let _ = r.child.wait();
        }
    }

    /// Kills the child (if running) and starts the same command with the same state
    /// directory. Call `hello` again afterwards.
    pub fn restart(&mut self) -> Result<(), DriverError> {
        self.kill();
        self.start()
    }

    /// Closes stdin and waits up to `timeout` for the child to exit by itself; kills it
    /// otherwise. Returns its exit status when it exited by itself.
    pub fn shutdown(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut r = self.running.take()?;
        r.requests.take();
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = r.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                kill_group(&mut r.child);
                let _ = r.child.wait();
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn stderr_tail_and_stop(&mut self) -> String {
        let text = self.stderr_tail();
        self.kill();
        text
    }
}

impl Drop for AdapterProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Judges one answer object against the request it answers (`op`, `id`): the `result`
/// object, the adapter's error, or a protocol violation ([`protocol::check_answer`]).
fn check_answer(
    op: &str,
    id: u64,
    answer: &Value,
) -> Result<Result<Value, AdapterError>, DriverError> {
    match protocol::check_answer(id, answer) {
        Ok(Ok(result)) => Ok(Ok(result)),
        Ok(Err(e)) => Ok(Err(AdapterError {
            class: e.class,
            message: e.message,
            tried: e.tried,
        })),
        Err(protocol::ProtocolViolation(detail)) => Err(DriverError::Protocol {
            op: op.into(),
            detail,
        }),
    }
}

fn kill_group(child: &mut Child) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(child.id()) {
        // The child leads its own group (process_group(0)): this also reaches whatever a
        // `sh -c` wrapper started.
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
}

fn wait_briefly(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s.to_string(),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            Ok(None) => return "closed its stdout, still running".into(),
            Err(e) => return format!("status unknown: {e}"),
        }
    }
}

fn read_lines(stdout: impl Read, tx: Sender<Line>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut buf = Vec::new();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => {
                let _ = tx.send(Line::Eof);
                return;
            }
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                let text = String::from_utf8_lossy(&buf).into_owned();
                if tx.send(Line::Text(text)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Line::Err(e));
                return;
            }
        }
    }
}

fn write_requests(mut stdin: ChildStdin, rx: Receiver<Vec<u8>>) {
    for line in rx {
        if stdin.write_all(&line).and_then(|()| stdin.flush()).is_err() {
            return;
        }
    }
}

fn keep_tail(mut pipe: impl Read, sink: Arc<Mutex<VecDeque<u8>>>) {
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let Ok(mut q) = sink.lock() else { return };
                q.extend(&buf[..n]);
                let excess = q.len().saturating_sub(STDERR_TAIL_BYTES);
                q.drain(..excess);
            }
        }
    }
}

fn stderr_text(q: &Arc<Mutex<VecDeque<u8>>>) -> String {
    match q.lock() {
        Ok(q) => {
            let bytes: Vec<u8> = q.iter().copied().collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_plain_and_quoted_words() {
        assert_eq!(
            split_command("/bin/backproof adapter").unwrap(),
            Some(vec!["/bin/backproof".into(), "adapter".into()])
        );
        assert_eq!(
            split_command(r#"  'my client' --adapter "a b" c\ d --x=1 "" "#).unwrap(),
            Some(vec![
                "my client".into(),
                "--adapter".into(),
                "a b".into(),
                "c d".into(),
                "--x=1".into(),
                "".into()
            ])
        );
        for shell in [
            "a | b",
            "a > f",
            "a; b",
            "echo $HOME",
            "FOO=1 cmd",
            "a && b",
            "x `y`",
        ] {
            assert_eq!(split_command(shell).unwrap(), None, "{shell}");
        }
        for bad in ["", "   ", "'open", "\"open", "trailing\\"] {
            assert!(split_command(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quote_round_trips_through_sh() {
        let q = shell_quote("it's a dir");
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {q}"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "it's a dir");
    }
}
