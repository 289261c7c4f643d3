//! The `http` step: a raw request straight to the server (not through the client proxy,
//! so it never counts as a step of an operation). It is sent by an HTTP client library, or
//! as raw HTTP/1.1 on a socket (`transport`): `duplex` reads the answer while the body is
//! still being written, `blocking` writes the whole body first and only then reads, as a
//! plain client does — which gets an early answer only from a server that keeps reading
//! after it answered (docs/API.md, "Early answers").

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{clip, sha256_hex};
use crate::scenario::model::{AuthMode, BodyDef, Pace, Step, Transport};
use crate::scenario::verdict::{StepResult, Verdict};
use crate::scenario::world::{World, http_client};

/// How long a raw exchange may take before it counts as "no answer": generous, the suite
/// runs on loaded machines and a 2 MiB body is being written meanwhile.
const RAW_ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// How long a client that stalled its body waits for the server to answer or close: longer
/// than common servers' body timeouts (nginx's `client_body_timeout` is 60 s), bounded so
/// that a server which holds a stalled upload open for ever fails instead of hanging the run.
const STALL_ANSWER_WITHIN: Duration = Duration::from_secs(75);

/// What the server answered.
#[derive(Debug)]
struct Answer {
    code: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Replaces every `{user:NAME}` with the server-side name of logical user NAME (user names
/// are unique per world, so a scenario cannot write them literally).
fn expand_users(text: &str, name_of: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("{user:") {
        let Some(j) = rest[i..].find('}') else { break };
        out.push_str(&rest[..i]);
        out.push_str(&name_of(&rest[i + "{user:".len()..i + j]));
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

pub(super) async fn run(world: &World, step: &Step) -> StepResult {
    let Step::Http {
        user,
        auth,
        method,
        path,
        headers,
        body,
        status,
        transport,
        tries,
        pace,
        ..
    } = step
    else {
        return Err(Verdict::Error("not an http step".into()));
    };
    if pace.is_some() && *transport != Transport::Duplex {
        return Err(Verdict::Error(
            "`pace` needs `transport = \"duplex\"`".into(),
        ));
    }
    let name_of = |u: &str| world.user_name(u);
    let path = expand_users(path, name_of);
    let mut header_list: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.clone(), expand_users(v, name_of)))
        .collect();
    let token = match user {
        Some(u) => Some(world.token(u).await?),
        None => None,
    };
    let authorization = match (auth, &token) {
        (AuthMode::Token, Some(t)) => Some(format!("Bearer {t}")),
        (AuthMode::None, _) | (AuthMode::Token, None) => None,
        (AuthMode::Garbage, _) => Some("Bearer not-a-token".to_string()),
        (AuthMode::WrongScheme, Some(t)) => Some(format!("Basic {t}")),
        (AuthMode::Forged, Some(t)) => {
            // Same user, a MAC that is not the server's.
            let cut = t.rfind('.').map(|i| i + 1).unwrap_or(t.len());
            Some(format!(
                "Bearer {}AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                &t[..cut]
            ))
        }
        (AuthMode::WrongScheme | AuthMode::Forged, None) => {
            return Err(Verdict::Error(format!(
                "auth {auth:?} changes a user's token: the step needs a `user`"
            )));
        }
    };
    if let Some(a) = authorization {
        header_list.insert(0, ("authorization".to_string(), a));
    }
    let sent_body = match body {
        // A JSON body may name a user's server-side name (API v0's `s3_key`).
        Some(BodyDef { text: Some(t), .. }) => Some(expand_users(t, name_of).into_bytes()),
        Some(b) => Some(body_bytes(b)?),
        None => None,
    };
    let chunked = body.as_ref().is_some_and(|b| b.chunked);
    let base = world.server_url().await;
    let tries = tries.unwrap_or(1).max(1);
    let expected = format!(
        "{method} {path} → {}",
        status
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    );
    let mut note = None;
    for i in 1..=tries {
        let req = Outgoing {
            method,
            path: &path,
            headers: &header_list,
            body: sent_body.as_deref(),
            chunked,
        };
        let answered = match raw_target(&base, *transport) {
            Some((host, port, base_path)) => {
                let wire = req.wire(&host, port, &base_path);
                match exchange(*transport, host, port, wire, *pace).await {
                    Ok(a) => Ok(a),
                    // Closing a stalled upload is as good as refusing it: what it left
                    // behind is for the next steps to check.
                    Err(RawFailure::Closed { sent, .. } | RawFailure::Reset { sent, .. })
                        if matches!(pace, Some(Pace::Stall { .. })) =>
                    {
                        note = Some(format!(
                            "{method} {path}: the server closed the stalled upload without an answer ({sent} request bytes sent)"
                        ));
                        continue;
                    }
                    Err(f) => Err(f.verdict(&expected)),
                }
            }
            None if pace.is_some() => {
                return Err(Verdict::Error(format!(
                    "`pace` needs a plain http:// server; {base} is not"
                )));
            }
            None => send_with_client(&base, &req).await,
        };
        let result = answered.and_then(|a| judge(world, step, &path, sent_body.as_deref(), a));
        note = result.map_err(|v| {
            if tries > 1 {
                v.context(&format!("try {i} of {tries}"))
            } else {
                v
            }
        })?;
    }
    Ok(note)
}

/// One request, as the step describes it (placeholders expanded, `Authorization` first).
struct Outgoing<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(String, String)],
    body: Option<&'a [u8]>,
    chunked: bool,
}

impl Outgoing<'_> {
    /// The request as bytes on the wire: HTTP/1.1, `Connection: close`, the body with a
    /// `Content-Length` or chunked.
    fn wire(&self, host: &str, port: u16, base_path: &str) -> Vec<u8> {
        let mut head = format!(
            "{} {base_path}{} HTTP/1.1\r\nhost: {host}:{port}\r\n",
            self.method, self.path
        );
        for (k, v) in self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = self.body {
            if self.chunked {
                head.push_str("transfer-encoding: chunked\r\n");
            } else {
                head.push_str(&format!("content-length: {}\r\n", b.len()));
            }
        }
        head.push_str("connection: close\r\n\r\n");
        let mut out = head.into_bytes();
        if let Some(b) = self.body {
            if self.chunked {
                for c in b.chunks(64 * 1024) {
                    out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    out.extend_from_slice(c);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            } else {
                out.extend_from_slice(b);
            }
        }
        out
    }
}

/// Host, port and base path for a raw transport; `None` for the client library (also for
/// an `https://` server given by URL: the raw transports speak plain HTTP only).
fn raw_target(base: &str, transport: Transport) -> Option<(String, u16, String)> {
    if transport == Transport::Client {
        return None;
    }
    let url = reqwest::Url::parse(base).ok()?;
    if url.scheme() != "http" {
        return None;
    }
    Some((
        url.host_str()?.to_string(),
        url.port_or_known_default()?,
        url.path().trim_end_matches('/').to_string(),
    ))
}

async fn send_with_client(base: &str, req: &Outgoing<'_>) -> Result<Answer, Verdict> {
    let url = format!("{base}{}", req.path);
    let m = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| Verdict::Error(format!("bad method {}", req.method)))?;
    let mut r = http_client().request(m, &url);
    for (k, v) in req.headers {
        r = r.header(k.as_str(), v.as_str());
    }
    if let Some(bytes) = req.body {
        if req.chunked {
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
                .chunks(64 * 1024)
                .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
                .collect();
            r = r.body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
        } else {
            r = r.body(bytes.to_vec());
        }
    }
    let resp = r.send().await.map_err(|e| {
        Verdict::fail(
            format!("{} {}", req.method, req.path),
            "no answer",
            e.to_string(),
        )
    })?;
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap_or_default().to_vec();
    Ok(Answer {
        code,
        headers,
        body,
    })
}

/// Why a raw exchange ended without a complete answer.
#[derive(Debug)]
enum RawFailure {
    /// The connection was reset before a complete answer could be read.
    Reset {
        sent: usize,
        total: usize,
        detail: String,
    },
    /// The server closed (FIN) before a complete answer.
    Closed {
        sent: usize,
        total: usize,
        got: usize,
    },
    /// Nothing complete within `within`.
    Timeout {
        sent: usize,
        total: usize,
        within: Duration,
    },
    /// No connection, or an answer that is not HTTP.
    Other(String),
}

impl RawFailure {
    fn verdict(&self, expected: &str) -> Verdict {
        match self {
            RawFailure::Reset {
                sent,
                total,
                detail,
            } => Verdict::fail(
                expected,
                format!(
                    "connection reset, {sent} of {total} request bytes sent, no answer read ({detail})"
                ),
                "reset without an answer",
            ),
            RawFailure::Closed { sent, total, got } => Verdict::fail(
                expected,
                format!(
                    "connection closed, {sent} of {total} request bytes sent, {got} answer bytes (incomplete)"
                ),
                "closed without an answer",
            ),
            RawFailure::Timeout {
                sent,
                total,
                within,
            } => Verdict::fail(
                expected,
                format!(
                    "no complete answer within {} s, {sent} of {total} request bytes sent",
                    within.as_secs()
                ),
                "no answer",
            ),
            RawFailure::Other(e) => Verdict::fail(expected, e.clone(), "no answer"),
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionReset | ConnectionAborted | BrokenPipe)
}

/// Parses what was read so far: `Some` once an answer is complete (by `Content-Length`,
/// chunked framing, or the end of the stream when it has neither).
fn parse_answer(buf: &[u8], eof: bool) -> Result<Option<Answer>, String> {
    let mut hs = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut hs);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "not an HTTP answer ({e}): {}",
                clip(&String::from_utf8_lossy(buf))
            ));
        }
    };
    let code = resp.code.unwrap_or(0);
    let mut headers = HeaderMap::new();
    for h in resp.headers.iter() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            headers.append(n, v);
        }
    }
    let rest = &buf[head_len..];
    let length = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = headers
        .get("transfer-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if let Some(n) = length {
        if rest.len() < n {
            return Ok(None);
        }
        rest[..n].to_vec()
    } else if chunked {
        match dechunk(rest) {
            Some(b) => b,
            None => return Ok(None),
        }
    } else if code == 204 || code == 304 || eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Answer {
        code,
        headers,
        body,
    }))
}

/// A complete chunked body, or `None` while its last chunk has not arrived.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&b[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if b.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// Sends `wire` on a new connection to `host:port` and reads the answer, by `transport`.
async fn exchange(
    transport: Transport,
    host: String,
    port: u16,
    wire: Vec<u8>,
    pace: Option<Pace>,
) -> Result<Answer, RawFailure> {
    match transport {
        Transport::Blocking => tokio::task::spawn_blocking(move || blocking(&host, port, &wire))
            .await
            .map_err(|e| RawFailure::Other(format!("the blocking client panicked: {e}")))?,
        _ => duplex(&host, port, wire, pace).await,
    }
}

/// Writes the request in a task while reading the answer: an answer the server sends
/// before the body is complete is read as it arrives. `pace` slows the body down: a stall
/// sends part of it and then nothing, a trickle sends it piece by piece.
async fn duplex(
    host: &str,
    port: u16,
    wire: Vec<u8>,
    pace: Option<Pace>,
) -> Result<Answer, RawFailure> {
    let total = wire.len();
    let head_len = wire
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(total, |i| i + 4);
    // What goes at once, then the pieces of the rest and the pause before each.
    let (at_once, piece, every) = match pace {
        None => (total, total.max(1), Duration::ZERO),
        Some(Pace::Stall { after }) => {
            ((head_len + after).min(total), total.max(1), Duration::ZERO)
        }
        Some(Pace::Trickle { bytes, every_ms }) => {
            (head_len, bytes.max(1), Duration::from_millis(every_ms))
        }
    };
    let stalled = matches!(pace, Some(Pace::Stall { .. }));
    let within = match pace {
        Some(Pace::Stall { .. }) => STALL_ANSWER_WITHIN,
        // The bound counts from the start: the trickle's own duration comes on top.
        _ => RAW_ANSWER_WITHIN + every * (total - at_once).div_ceil(piece) as u32,
    };
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| RawFailure::Other(format!("cannot connect to {host}:{port}: {e}")))?;
    let (mut rd, mut wr) = stream.into_split();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    // Linux reports a reset once: when the writer takes it, the reader then sees a plain
    // end of stream. Keep the writer's error so the reader can tell a reset from a FIN.
    let write_reset: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let reset_seen = write_reset.clone();
    let writer = tokio::spawn(async move {
        let failed = |e: std::io::Error| {
            if is_reset(&e) {
                *reset_seen.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(format!("writing: {e}"));
            }
        };
        for c in wire[..at_once].chunks(16 * 1024) {
            if let Err(e) = wr.write_all(c).await {
                return failed(e);
            }
            counter.fetch_add(c.len(), Ordering::Relaxed);
        }
        if !stalled {
            for c in wire[at_once..].chunks(piece) {
                // Pacing, not waiting for anything: the pause is what the case is about.
                tokio::time::sleep(every).await;
                if let Err(e) = wr.write_all(c).await {
                    return failed(e);
                }
                counter.fetch_add(c.len(), Ordering::Relaxed);
            }
        }
        // Keep the write side open until the reader is done: a FIN is not part of the test.
        std::future::pending::<()>().await;
    });
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match rd.read(&mut chunk).await {
                Ok(0) => {
                    let sent = sent.load(Ordering::Relaxed);
                    let closed = end_of_stream(&buf, sent, total);
                    if !matches!(closed, Err(RawFailure::Closed { .. })) {
                        return closed;
                    }
                    // A writer still busy when the reset came ends within moments; one that
                    // wrote everything waits forever and means a FIN. Only the failure path
                    // waits, and a late writer only changes the reason, not the verdict.
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                    while !writer.is_finished() && tokio::time::Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    let reset = write_reset
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .clone();
                    return match reset {
                        Some(detail) => Err(RawFailure::Reset {
                            sent,
                            total,
                            detail,
                        }),
                        None => closed,
                    };
                }
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(a) = parse_answer(&buf, false).map_err(RawFailure::Other)? {
                        return Ok(a);
                    }
                }
                Err(e) if is_reset(&e) => {
                    return Err(RawFailure::Reset {
                        sent: sent.load(Ordering::Relaxed),
                        total,
                        detail: e.to_string(),
                    });
                }
                Err(e) => return Err(RawFailure::Other(e.to_string())),
            }
        }
    };
    let out = match tokio::time::timeout(within, read).await {
        Ok(r) => r,
        Err(_) => Err(RawFailure::Timeout {
            sent: sent.load(Ordering::Relaxed),
            total,
            within,
        }),
    };
    writer.abort();
    // Wait for the abort, so that the connection is closed when this returns.
    let _ = writer.await;
    out
}

fn end_of_stream(buf: &[u8], sent: usize, total: usize) -> Result<Answer, RawFailure> {
    match parse_answer(buf, true).map_err(RawFailure::Other)? {
        Some(a) => Ok(a),
        None => Err(RawFailure::Closed {
            sent,
            total,
            got: buf.len(),
        }),
    }
}

/// A plain blocking client: the whole request first, then the answer.
fn blocking(host: &str, port: u16, wire: &[u8]) -> Result<Answer, RawFailure> {
    let total = wire.len();
    let mut s = std::net::TcpStream::connect((host, port))
        .map_err(|e| RawFailure::Other(format!("cannot connect to {host}:{port}: {e}")))?;
    let io = |e: std::io::Error| RawFailure::Other(e.to_string());
    s.set_read_timeout(Some(RAW_ANSWER_WITHIN)).map_err(io)?;
    s.set_write_timeout(Some(RAW_ANSWER_WITHIN)).map_err(io)?;
    let mut sent = 0;
    let mut write_error = None;
    for c in wire.chunks(16 * 1024) {
        if let Err(e) = s.write_all(c) {
            write_error = Some(e);
            break;
        }
        sent += c.len();
    }
    // A plain client whose write fails reports that failure and never reads: whatever
    // answer the kernel may still hold is lost to it.
    if let Some(e) = write_error {
        return Err(if is_reset(&e) {
            RawFailure::Reset {
                sent,
                total,
                detail: format!("writing: {e}"),
            }
        } else if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            RawFailure::Timeout {
                sent,
                total,
                within: RAW_ANSWER_WITHIN,
            }
        } else {
            RawFailure::Other(e.to_string())
        });
    }
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => {
                return end_of_stream(&buf, sent, total);
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(a) = parse_answer(&buf, false).map_err(RawFailure::Other)? {
                    return Ok(a);
                }
            }
            Err(e) if is_reset(&e) => {
                return Err(RawFailure::Reset {
                    sent,
                    total,
                    detail: format!("reading: {e}"),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(RawFailure::Timeout {
                    sent,
                    total,
                    within: RAW_ANSWER_WITHIN,
                });
            }
            Err(e) => return Err(RawFailure::Other(e.to_string())),
        }
    }
}

/// Holds one answer against the step's expectations.
fn judge(
    world: &World,
    step: &Step,
    path: &str,
    sent_body: Option<&[u8]>,
    answer: Answer,
) -> StepResult {
    let Step::Http {
        method,
        status,
        expect_headers,
        problem,
        json: json_members,
        body_equals,
        save_body,
        ..
    } = step
    else {
        return Err(Verdict::Error("not an http step".into()));
    };
    let Answer {
        code,
        headers: got_headers,
        body: text,
    } = answer;
    let desc = format!("{method} {path}");
    let expected_status = status
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    let Some(pos) = status.iter().position(|s| *s == code) else {
        return Err(Verdict::fail(
            format!("{desc} → {expected_status}"),
            format!("{code} {}", clip(&String::from_utf8_lossy(&text))),
            "status",
        ));
    };
    for (name, want) in expect_headers {
        let got = got_headers.get(name.as_str()).and_then(|v| v.to_str().ok());
        let ok = match got {
            Some(g) => want == "*" || g == want,
            None => false,
        };
        if !ok {
            return Err(Verdict::fail(
                format!("{desc}: header {name}: {want}"),
                format!("{name}: {}", got.unwrap_or("(absent)")),
                "response header",
            ));
        }
    }
    if let Some(ptype) = problem {
        let ct = got_headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/problem+json") {
            return Err(Verdict::fail(
                format!("{desc}: application/problem+json"),
                format!("content-type {ct:?}"),
                "every error is a problem+json body",
            ));
        }
        let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        let fields_ok = v["title"].is_string()
            && v["detail"].is_string()
            && v["status"].as_u64() == Some(u64::from(code));
        if v["type"].as_str() != Some(ptype) || !fields_ok {
            return Err(Verdict::fail(
                format!("problem {{type: {ptype}, title, status: {code}, detail}}"),
                clip(&String::from_utf8_lossy(&text)),
                "problem body",
            ));
        }
    }
    if !json_members.is_empty() {
        let v: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
        for (k, want) in json_members {
            let got = &v[k.as_str()];
            let got_text = got
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| got.to_string());
            if got.is_null() || (want != "*" && &got_text != want) {
                return Err(Verdict::fail(
                    format!("{desc}: JSON member {k} = {want}"),
                    clip(&String::from_utf8_lossy(&text)),
                    "response body",
                ));
            }
            if want == "*"
                && k == "sha256"
                && let Some(b) = sent_body
                && got_text != sha256_hex(b)
            {
                return Err(Verdict::fail(
                    "sha256 of the uploaded body",
                    got_text,
                    "response body sha256",
                ));
            }
        }
    }
    if let Some(label) = body_equals {
        let saved = world
            .saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(label)
            .cloned();
        if saved.as_deref() != Some(&text[..]) {
            return Err(Verdict::fail(
                format!("{desc}: the body saved as {label}"),
                format!("{} bytes, sha256 {}", text.len(), sha256_hex(&text)),
                "body",
            ));
        }
    }
    if let Some(label) = save_body {
        let b = if method.eq_ignore_ascii_case("POST") {
            sent_body.unwrap_or_default().to_vec()
        } else {
            text
        };
        world
            .saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(label.clone(), b);
    }
    if pos > 0 {
        Ok(Some(format!(
            "{desc} → {code} (accepted alternative to {})",
            status[0]
        )))
    } else {
        Ok(None)
    }
}

fn body_bytes(b: &BodyDef) -> Result<Vec<u8>, Verdict> {
    if let Some(t) = &b.text {
        return Ok(t.as_bytes().to_vec());
    }
    if let Some(h) = &b.hex {
        return hex::decode(h).map_err(|e| Verdict::Error(format!("body hex: {e}")));
    }
    if let Some(n) = b.random_len {
        // Deterministic filler: the server never looks inside a blob.
        let mut out = Vec::with_capacity(n);
        let mut x: u32 = 0x9e37_79b9;
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            out.push(x as u8);
        }
        return Ok(out);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use super::*;

    const PROBLEM: &str =
        r#"{"type":"urn:backproof:problem:body-too-large","title":"t","status":413,"detail":"d"}"#;

    /// What a test server does once it has read a request head.
    #[derive(Clone, Copy)]
    enum Manners {
        /// Answers 413, then reads and discards until the client closes (docs/API.md).
        Lingering,
        /// Answers 413 and closes at once with the body unread: the kernel resets.
        Rude,
        /// Closes with the body unread, no answer.
        Silent,
    }

    /// A one-connection server on 127.0.0.1 that behaves as `manners` says.
    fn server(manners: Manners) -> (u16, JoinHandle<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut byte).unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            let answer = format!(
                "HTTP/1.1 413 Payload Too Large\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{PROBLEM}",
                PROBLEM.len()
            );
            match manners {
                Manners::Lingering => {
                    s.write_all(answer.as_bytes()).unwrap();
                    let _ = s.shutdown(Shutdown::Write);
                    let mut sink = vec![0u8; 64 * 1024];
                    while s.read(&mut sink).is_ok_and(|n| n > 0) {}
                }
                Manners::Rude => {
                    s.write_all(answer.as_bytes()).unwrap();
                    // Unread body bytes at close make the kernel send a reset.
                    let _ = s.peek(&mut byte);
                }
                Manners::Silent => {
                    let _ = s.peek(&mut byte);
                }
            }
        });
        (port, h)
    }

    fn over_limit(chunked: bool) -> Vec<u8> {
        sized(chunked, 2 * 1024 * 1024 + 1)
    }

    fn sized(chunked: bool, len: usize) -> Vec<u8> {
        let body = vec![7u8; len];
        let headers = vec![("authorization".to_string(), "Bearer t".to_string())];
        Outgoing {
            method: "POST",
            path: "/v1/backup",
            headers: &headers,
            body: Some(&body),
            chunked,
        }
        .wire("127.0.0.1", 1, "")
    }

    async fn try_once(
        transport: Transport,
        manners: Manners,
        chunked: bool,
    ) -> Result<Answer, RawFailure> {
        try_with(transport, manners, over_limit(chunked)).await
    }

    async fn try_with(
        transport: Transport,
        manners: Manners,
        wire: Vec<u8>,
    ) -> Result<Answer, RawFailure> {
        let (port, h) = server(manners);
        let out = exchange(transport, "127.0.0.1".into(), port, wire, None).await;
        tokio::task::spawn_blocking(move || h.join().unwrap())
            .await
            .unwrap();
        out
    }

    #[tokio::test]
    async fn a_lingering_server_answers_both_clients() {
        for transport in [Transport::Duplex, Transport::Blocking] {
            for chunked in [false, true] {
                let a = try_once(transport, Manners::Lingering, chunked)
                    .await
                    .unwrap();
                assert_eq!(a.code, 413);
                assert_eq!(a.body, PROBLEM.as_bytes());
                assert_eq!(
                    a.headers.get("content-type").unwrap(),
                    "application/problem+json"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_server_that_answers_and_closes_at_once_is_reset_without_an_answer_for_a_plain_client()
     {
        for _ in 0..5 {
            // Loopback buffers can take a 2 MiB body whole before the reset comes back;
            // 64 MiB cannot be, so the plain client is still writing when it does.
            let f = try_with(Transport::Blocking, Manners::Rude, sized(false, 64 << 20))
                .await
                .unwrap_err();
            let Verdict::Fail {
                reason, observed, ..
            } = f.verdict("POST /v1/backup → 413")
            else {
                panic!("a target failure, not a harness error: {f:?}");
            };
            assert_eq!(reason, "reset without an answer", "{observed}");
        }
    }

    #[tokio::test]
    async fn a_server_that_resets_without_answering_fails_the_duplex_client() {
        let f = try_once(Transport::Duplex, Manners::Silent, false)
            .await
            .unwrap_err();
        let Verdict::Fail { reason, .. } = f.verdict("POST /v1/backup → 413") else {
            panic!("{f:?}");
        };
        assert_eq!(reason, "reset without an answer", "{f:?}");
    }

    #[test]
    fn answers_are_complete_only_with_their_whole_body() {
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n";
        assert!(
            parse_answer(format!("{head}abc").as_bytes(), false)
                .unwrap()
                .is_none()
        );
        let a = parse_answer(format!("{head}abcde").as_bytes(), false)
            .unwrap()
            .unwrap();
        assert_eq!((a.code, a.body.as_slice()), (200, &b"abcde"[..]));
        let chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n";
        assert!(parse_answer(chunked.as_bytes(), false).unwrap().is_none());
        let a = parse_answer(format!("{chunked}2\r\nde\r\n0\r\n\r\n").as_bytes(), false)
            .unwrap()
            .unwrap();
        assert_eq!(a.body, b"abcde");
        assert!(parse_answer(b"SSH-2.0-x\r\n\r\n", false).is_err());
    }

    #[test]
    fn user_placeholders_become_server_names() {
        let name = |u: &str| format!("u1234-{u}");
        assert_eq!(
            expand_users("/v1/backup?user={user:bob}&x={user:alice}", name),
            "/v1/backup?user=u1234-bob&x=u1234-alice"
        );
        assert_eq!(expand_users("plain", name), "plain");
        assert_eq!(expand_users("{user:open", name), "{user:open");
    }

    #[test]
    fn the_wire_form_frames_the_body() {
        let headers = vec![("x-a".to_string(), "1".to_string())];
        let w = Outgoing {
            method: "POST",
            path: "/v1/backup",
            headers: &headers,
            body: Some(b"hello"),
            chunked: true,
        }
        .wire("127.0.0.1", 8080, "/api");
        let text = String::from_utf8(w).unwrap();
        assert!(
            text.starts_with("POST /api/v1/backup HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nx-a: 1\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "transfer-encoding: chunked\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            ),
            "{text}"
        );
    }
}
