#![forbid(unsafe_code)]
//! Fault-injecting HTTP proxies (docs/SCENARIOS.md, "fault" steps).
//!
//! The harness puts a [`FaultProxy`] between the client under test and the server, and
//! another between the server and S3 (the server's S3 endpoint *is* the proxy). Each
//! request that passes is a numbered *step*. On command the proxy kills a process (by pid,
//! `SIGKILL`) at step k before forwarding or after forwarding and before answering, drops
//! the answer, answers 503 (or any status), or delays. Because it only sees HTTP, crash
//! testing works on any implementation in any language.
//!
//! Requests are forwarded verbatim: method, path and query, and every header including
//! `Host` — so AWS SigV4 signatures made for the proxy's address still verify at S3, which
//! signs over the `Host` the client used. A proxy in front of a server given by URL instead
//! sets `Host` to the upstream's authority ([`ProxyOptions::rewrite_host`]), so that a
//! name-based virtual host or a CDN answers.
//!
//! The proxy always listens plain HTTP on `127.0.0.1`; the upstream may be `http://` or
//! `https://`. For `https://` the proxy terminates nothing: it opens its own TLS connection
//! to the upstream (re-originates TLS), verifying the upstream's certificate against the
//! system trust store (or the PEM file named by `SSL_CERT_FILE`, which replaces it), plus
//! [`ProxyOptions::extra_root_pem`]. A certificate that does not verify makes the step a
//! dropped connection, logged at debug level with the reason.
//!
//! Recording: [`FaultProxy::reset`] starts a fresh exchange; after the operation,
//! [`FaultProxy::steps`] lists what the implementation actually did (method, path pattern,
//! status), so crash points are enumerated from behaviour rather than from a fixed list.
//!
//! Exchanges: [`FaultProxy::record_exchanges`] additionally keeps, for at most a given
//! number of requests, what was sent and answered (method, path, `If-Match`, the SHA-256 of
//! both bodies, status, `ETag`, a short answer body) with the times the request arrived and
//! the answer was complete, so a history checker can judge every exchange, not only what
//! the client under test chose to report. Recording buffers both bodies, so it is off by
//! default.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

type ProxyBody = BoxBody<Bytes, hyper::Error>;
type UpstreamClient = Client<HttpsConnector<HttpConnector>, ProxyBody>;

/// Errors of the proxy itself (not of the traffic it carries).
#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    /// The listening socket could not be bound.
    #[error("fault proxy: cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The upstream base URL is not `http(s)://host[:port]`.
    #[error("fault proxy: upstream {0:?} is not an http://host[:port] or https://host[:port] URL")]
    BadUpstream(String),
    /// The TLS client for an `https://` upstream could not be set up (e.g. a bad
    /// [`ProxyOptions::extra_root_pem`]).
    #[error("fault proxy: TLS setup: {0}")]
    Tls(String),
}

/// How a [`FaultProxy`] treats what it forwards. `Default` is what [`FaultProxy::start`]
/// uses: the caller's `Host` is kept, only the system's trust roots are used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Replace the caller's `Host` (`127.0.0.1:<proxy port>`) with the upstream's authority
    /// (`host[:port]` as written in the upstream URL). Needed in front of a server reached
    /// by name (virtual host, CDN); wrong in front of S3, where SigV4 signed the caller's
    /// `Host`.
    pub rewrite_host: bool,
    /// PEM certificates trusted as roots for an `https://` upstream, in addition to the
    /// system store / `SSL_CERT_FILE` (tests use it for a self-signed upstream without
    /// touching the process environment).
    pub extra_root_pem: Option<Vec<u8>>,
}

/// When, relative to forwarding, a fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// The request never reaches the upstream.
    BeforeForward,
    /// The upstream handled the request (its answer's head arrived), the caller never
    /// sees the answer.
    AfterForward,
}

impl When {
    /// Both points, in the order the enumerate driver tries them.
    pub const BOTH: [When; 2] = [When::BeforeForward, When::AfterForward];

    /// `"before"` or `"after"`.
    pub fn as_str(self) -> &'static str {
        match self {
            When::BeforeForward => "before",
            When::AfterForward => "after",
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the proxy does to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `SIGKILL` the process `pid` (its whole process group when it leads one), then close
    /// the caller's connection without an answer.
    Kill { pid: u32, when: When },
    /// Close the caller's connection without an answer (the request is forwarded first
    /// when `when` is `AfterForward`).
    Drop { when: When },
    /// Answer this status without forwarding.
    Status(u16),
    /// Wait this long, then forward normally.
    Delay(Duration),
    /// Hold the request until every request of the rule's window has arrived, then forward
    /// them one at a time (each once the one before has been answered): with a window of two
    /// writes from two devices, both devices have done all they do before their write (a read
    /// of the old state) when the first write lands, whatever the machine's load, so an
    /// overlap is a certainty instead of a race. One at a time, because what is tested is the
    /// clients' overlap, not the upstream's handling of simultaneous writes to one key (which
    /// the embedded S3 does not make atomic). A request still waiting for the others after
    /// this bound is dropped, which fails the operation that sent it instead of letting it
    /// pass unheld.
    Gather(Duration),
}

/// Which requests a rule counts. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepMatch {
    /// HTTP method, e.g. `PUT`.
    pub method: Option<String>,
    /// The step's path pattern (see [`path_pattern`]) must start with this.
    pub pattern_prefix: Option<String>,
}

impl StepMatch {
    /// Matches exactly the method and pattern of a recorded step.
    pub fn of(step: &Step) -> StepMatch {
        StepMatch {
            method: Some(step.method.clone()),
            pattern_prefix: Some(step.path.clone()),
        }
    }

    fn matches(&self, method: &str, pattern: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .pattern_prefix
                .as_deref()
                .is_none_or(|p| pattern.starts_with(p))
    }
}

/// Fire `fault` on the `at`-th (1-based) request of the exchange that matches `matching`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub at: usize,
    pub matching: StepMatch,
    pub fault: Fault,
}

impl Rule {
    /// Fire on the `at`-th request of the exchange, whatever it is.
    pub fn at_step(at: usize, fault: Fault) -> Rule {
        Rule {
            at,
            matching: StepMatch::default(),
            fault,
        }
    }
}

/// One request that went through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based position in the exchange (ignored requests are not numbered).
    pub index: usize,
    pub method: String,
    /// Path with variable segments replaced (see [`path_pattern`]).
    pub path: String,
    /// Status answered to the caller; `None` when the connection was closed instead.
    pub status: Option<u16>,
    /// The fault that fired on this step, if any.
    pub fault: Option<Fault>,
}

impl Step {
    /// `"PUT /bucket/backups/alice/{uuid}?x-id=PutObject"`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "#{} {} → {s}", self.index, self.label()),
            None => write!(f, "#{} {} → (no answer)", self.index, self.label()),
        }
    }
}

/// Normalizes a request target so that the same operation gives the same pattern run to
/// run: UUID segments become `{uuid}`, all-digit segments `{n}`, query values are dropped
/// except `x-id` (the AWS SDK's operation name), query keys are sorted.
pub fn path_pattern(uri: &Uri) -> String {
    let mut out = String::new();
    for (i, seg) in uri.path().split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if looks_like_uuid(seg) {
            out.push_str("{uuid}");
        } else if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str("{n}");
        } else {
            out.push_str(seg);
        }
    }
    if let Some(q) = uri.query() {
        let mut keys: Vec<String> = q
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some(("x-id", v)) => format!("x-id={v}"),
                Some((k, _)) => k.to_string(),
                None => kv.to_string(),
            })
            .collect();
        keys.sort();
        if !keys.is_empty() {
            out.push('?');
            out.push_str(&keys.join("&"));
        }
    }
    out
}

fn looks_like_uuid(seg: &str) -> bool {
    seg.len() == 36
        && seg.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// One request and its answer, as recorded by [`FaultProxy::record_exchanges`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The caller's address: requests on one connection are sequential.
    pub peer: SocketAddr,
    pub method: String,
    /// The request target as sent (path and query), not generalized.
    pub target: String,
    /// The request's `If-Match` header, verbatim (`None` when absent).
    pub if_match: Option<String>,
    /// SHA-256 (hex) of the request body.
    pub request_sha256: String,
    /// When the request arrived at the proxy.
    pub started: Instant,
    /// When the answer (its whole body) was passed on, or the exchange ended without one.
    pub finished: Instant,
    /// Status answered to the caller; `None` when the connection was closed instead.
    pub status: Option<u16>,
    /// The answer's `ETag` header, verbatim.
    pub etag: Option<String>,
    /// SHA-256 (hex) of the answer body (empty-body hash when there was no answer).
    pub response_sha256: String,
    /// The answer body when it is at most [`SHORT_BODY`] bytes and not
    /// `application/octet-stream` (JSON replies and problems, not blobs).
    pub response_body: Option<Bytes>,
}

/// Answer bodies up to this size are kept in [`Exchange::response_body`].
pub const SHORT_BODY: usize = 4096;

#[derive(Debug, Default)]
struct Recording {
    limit: usize,
    exchanges: Vec<Exchange>,
    /// Exchanges not kept because `limit` was reached.
    overflow: usize,
}

#[derive(Debug, Default)]
struct State {
    steps: Vec<Step>,
    rules: Vec<ArmedRule>,
    ignored: Vec<StepMatch>,
    recording: Option<Recording>,
}

#[derive(Debug)]
struct ArmedRule {
    rule: Rule,
    seen: usize,
    /// How many matching requests, from the `at`-th on, the fault hits (1 for [`FaultProxy::arm`]).
    times: usize,
    /// How many it has hit so far.
    fired: usize,
    /// Opened when `fired` reaches `times`: what [`Fault::Gather`] waits for.
    gathered: watch::Sender<bool>,
    /// Held by a gathered request while it is forwarded, so they pass one at a time.
    turn: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Shared {
    upstream: Mutex<Uri>,
    rewrite_host: bool,
    state: Mutex<State>,
}

/// The connection was closed on purpose; hyper then aborts it without an answer.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

/// A running proxy on `127.0.0.1:<random port>`; dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to `upstream` (`http://` or `https://host[:port]`; any
    /// path is ignored: requests keep their own path, so a caller that needs a base path
    /// puts it in its own URL of the proxy). The caller's `Host` is forwarded unchanged.
    pub async fn start(upstream: &str) -> Result<FaultProxy, FaultError> {
        FaultProxy::start_with(upstream, ProxyOptions::default()).await
    }

    /// [`FaultProxy::start`] with options (e.g. rewriting `Host` for a server given by URL).
    pub async fn start_with(
        upstream: &str,
        options: ProxyOptions,
    ) -> Result<FaultProxy, FaultError> {
        let upstream = parse_upstream(upstream)?;
        let connector = connector(options.extra_root_pem.as_deref())?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(FaultError::Bind)?;
        let addr = listener.local_addr().map_err(FaultError::Bind)?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            rewrite_host: options.rewrite_host,
            state: Mutex::new(State::default()),
        });
        // No idle pool: after the upstream is killed and restarted, a pooled connection
        // to the dead process would turn the next step into a spurious failure.
        let client: UpstreamClient = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        let (stop, mut stopped) = watch::channel(false);
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => return,
                };
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                let shared = task_shared.clone();
                let client = client.clone();
                tokio::spawn(async move {
                    let svc =
                        service_fn(move |req| recorded(shared.clone(), client.clone(), peer, req));
                    // Errors here are the drops we caused or callers going away.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(FaultProxy {
            addr,
            shared,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Points the proxy at a new upstream (a restarted server may listen on a new port).
    pub fn set_upstream(&self, upstream: &str) -> Result<(), FaultError> {
        let uri = parse_upstream(upstream)?;
        *lock(&self.shared.upstream) = uri;
        Ok(())
    }

    /// Starts a new exchange: clears the recorded steps and every armed rule (ignore
    /// filters stay).
    pub fn reset(&self) {
        let mut st = lock(&self.shared.state);
        st.steps.clear();
        st.rules.clear();
    }

    /// Requests matching any of these are forwarded untouched and neither numbered nor
    /// recorded (background traffic such as health checks or a sweeper's listing).
    pub fn set_ignored(&self, ignored: Vec<StepMatch>) {
        lock(&self.shared.state).ignored = ignored;
    }

    /// Arms a rule for the current exchange; it fires at most once.
    pub fn arm(&self, rule: Rule) {
        self.arm_window(rule, 1);
    }

    /// Arms a rule that fires on `times` matching requests in a row, from the `at`-th on
    /// (`usize::MAX`: until [`FaultProxy::reset`]). A fault window outlasts a client's
    /// retries, which a single fault does not: an SDK that retries a 503 twice never shows
    /// its caller the failure of one.
    pub fn arm_window(&self, rule: Rule, times: usize) {
        lock(&self.shared.state).rules.push(ArmedRule {
            rule,
            seen: 0,
            times: times.max(1),
            fired: 0,
            gathered: watch::Sender::new(false),
            turn: Arc::default(),
        });
    }

    /// The steps of the current exchange so far.
    pub fn steps(&self) -> Vec<Step> {
        lock(&self.shared.state).steps.clone()
    }

    /// Starts recording exchanges (replacing any earlier recording), keeping at most
    /// `limit` of them; later ones are only counted ([`FaultProxy::exchanges`]). Ignored
    /// requests are recorded too: the filter is about numbering steps, not about what a
    /// history may look at.
    pub fn record_exchanges(&self, limit: usize) {
        lock(&self.shared.state).recording = Some(Recording {
            limit,
            ..Recording::default()
        });
    }

    /// Stops recording; returns what was recorded and how many exchanges did not fit.
    pub fn take_exchanges(&self) -> (Vec<Exchange>, usize) {
        match lock(&self.shared.state).recording.take() {
            Some(r) => (r.exchanges, r.overflow),
            None => (Vec::new(), 0),
        }
    }

    /// Whether every armed rule has fired.
    pub fn all_fired(&self) -> bool {
        lock(&self.shared.state).rules.iter().all(|r| r.fired > 0)
    }

    /// Stops accepting connections.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave State half-updated in a way that
    // matters more than losing the proxy; keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_upstream(s: &str) -> Result<Uri, FaultError> {
    let uri: Uri = s
        .parse()
        .map_err(|_| FaultError::BadUpstream(s.to_string()))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
        return Err(FaultError::BadUpstream(s.to_string()));
    }
    Ok(uri)
}

/// The system's trust roots, read once per process: many proxies are started per run, and
/// reading the store (or `SSL_CERT_FILE`) each time would cost a file scan per proxy.
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: std::sync::OnceLock<Vec<CertificateDer<'static>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::debug!(error = %e, "fault proxy: reading the system trust roots");
        }
        loaded.certs
    })
}

/// One connector for both schemes: plain TCP for `http://`, rustls for `https://`.
fn connector(extra_root_pem: Option<&[u8]>) -> Result<HttpsConnector<HttpConnector>, FaultError> {
    let mut roots = rustls::RootCertStore::empty();
    // Unparsable system certificates are skipped, as every rustls client does.
    roots.add_parsable_certificates(native_roots().iter().cloned());
    if let Some(pem) = extra_root_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| FaultError::Tls(format!("extra root PEM: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| FaultError::Tls(format!("extra root certificate: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(FaultError::Tls(
                "extra root PEM holds no CERTIFICATE block".to_string(),
            ));
        }
    }
    // The provider is named, not taken from the process default: the workspace builds
    // rustls with both ring and aws-lc-rs (the AWS SDK brings the latter), and then rustls
    // has no implicit default.
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| FaultError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    // Let https:// URIs through the TCP layer; hyper-rustls does the TLS on top.
    http.enforce_http(false);
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// `e` and its causes, `a: b: c`: hyper-util's error alone says only "client error
/// (Connect)", the reason (refused, certificate not trusted, ...) is in the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}

fn full(status: u16, text: &str) -> Response<ProxyBody> {
    let mut resp = Response::new(
        Full::new(Bytes::from(text.to_string()))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}

fn kill(pid: u32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Ok(raw) = i32::try_from(pid) else { return };
    let target = Pid::from_raw(raw);
    // The harness starts what it may kill as process-group leaders, so that a wrapper
    // (`sh -c ...`) dies together with what it started; a plain pid is killed alone.
    if nix::unistd::getpgid(Some(target)) == Ok(target) {
        if let Err(e) = nix::sys::signal::killpg(target, Signal::SIGKILL) {
            tracing::debug!(pid, error = %e, "killpg");
        }
        return;
    }
    // ESRCH (already gone) is fine: the point is that it is not running.
    if let Err(e) = kill(target, Signal::SIGKILL) {
        tracing::debug!(pid, error = %e, "kill");
    }
}

fn header(headers: &http::HeaderMap, name: http::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// [`handle`], recording the exchange when a recording is on: both bodies are buffered
/// (to hash them), everything else passes through untouched.
async fn recorded(
    shared: Arc<Shared>,
    client: UpstreamClient,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Dropped> {
    if lock(&shared.state).recording.is_none() {
        return handle(shared, client, req.map(|b| b.boxed())).await;
    }
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let target = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let if_match = header(req.headers(), http::header::IF_MATCH);
    let (parts, body) = req.into_parts();
    // A caller that goes away mid-body gets no answer, as it would without recording.
    let body = body.collect().await.map_err(|_| Dropped)?.to_bytes();
    let request_sha256 = sha256_hex(&body);
    let req = Request::from_parts(
        parts,
        Full::new(body)
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    let result = handle(shared.clone(), client, req).await;
    let (result, status, etag, resp_body, short) = match result {
        Ok(resp) => {
            let (parts, body) = resp.into_parts();
            match body.collect().await {
                Ok(b) => {
                    let b = b.to_bytes();
                    let status = Some(parts.status.as_u16());
                    let etag = header(&parts.headers, http::header::ETAG);
                    // Blobs are hashed, not kept: a long recording of reads would hold
                    // every body otherwise.
                    let short = b.len() <= SHORT_BODY
                        && !header(&parts.headers, http::header::CONTENT_TYPE)
                            .is_some_and(|t| t.starts_with("application/octet-stream"));
                    let resp = Response::from_parts(
                        parts,
                        Full::new(b.clone())
                            .map_err(|never: Infallible| match never {})
                            .boxed(),
                    );
                    (Ok(resp), status, etag, b, short)
                }
                // The upstream broke off mid-answer: so does the proxy.
                Err(_) => (Err(Dropped), None, None, Bytes::new(), false),
            }
        }
        Err(d) => (Err(d), None, None, Bytes::new(), false),
    };
    let exchange = Exchange {
        peer,
        method,
        target,
        if_match,
        request_sha256,
        started,
        finished: Instant::now(),
        status,
        etag,
        response_sha256: sha256_hex(&resp_body),
        response_body: short.then_some(resp_body),
    };
    if let Some(r) = lock(&shared.state).recording.as_mut() {
        if r.exchanges.len() < r.limit {
            r.exchanges.push(exchange);
        } else {
            r.overflow += 1;
        }
    }
    result
}

async fn handle(
    shared: Arc<Shared>,
    client: UpstreamClient,
    req: Request<ProxyBody>,
) -> Result<Response<ProxyBody>, Dropped> {
    let method = req.method().as_str().to_string();
    let pattern = path_pattern(req.uri());

    // Number the step and pick the fault under one lock so concurrent requests get
    // distinct, arrival-ordered numbers.
    let (index, fault, gate) = {
        let mut st = lock(&shared.state);
        if st.ignored.iter().any(|m| m.matches(&method, &pattern)) {
            (None, None, None)
        } else {
            let index = st.steps.len() + 1;
            let mut fault = None;
            let mut gate = None;
            for armed in st.rules.iter_mut() {
                if armed.fired >= armed.times || !armed.rule.matching.matches(&method, &pattern) {
                    continue;
                }
                armed.seen += 1;
                if armed.seen >= armed.rule.at && fault.is_none() {
                    armed.fired += 1;
                    if armed.fired == armed.times {
                        armed.gathered.send_replace(true);
                    }
                    gate = Some((armed.gathered.subscribe(), armed.turn.clone()));
                    fault = Some(armed.rule.fault.clone());
                }
            }
            st.steps.push(Step {
                index,
                method: method.clone(),
                path: pattern.clone(),
                status: None,
                fault: fault.clone(),
            });
            (Some(index), fault, gate)
        }
    };
    let record = |status: Option<u16>| {
        if let Some(i) = index {
            let mut st = lock(&shared.state);
            if let Some(s) = st.steps.get_mut(i - 1) {
                s.status = status;
            }
        }
    };

    // A gathered request's turn to be forwarded, held until its answer is on the way back.
    let mut _turn = None;
    match &fault {
        Some(Fault::Kill {
            pid,
            when: When::BeforeForward,
        }) => {
            kill(*pid);
            return Err(Dropped);
        }
        Some(Fault::Drop {
            when: When::BeforeForward,
        }) => return Err(Dropped),
        Some(Fault::Status(code)) => {
            record(Some(*code));
            return Ok(full(*code, "injected by backproof fault proxy\n"));
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(*d).await,
        Some(Fault::Gather(within)) => {
            let (mut gate, turn) = gate.ok_or(Dropped)?;
            match tokio::time::timeout(*within, gate.wait_for(|&open| open)).await {
                Ok(Ok(_)) => {}
                // Alone past the bound, or the exchange was reset under it.
                _ => return Err(Dropped),
            }
            _turn = Some(turn.lock_owned().await);
        }
        _ => {}
    }

    let upstream = lock(&shared.upstream).clone();
    let (mut parts, body) = req.into_parts();
    let authority = upstream.authority().map(|a| a.as_str()).unwrap_or_default();
    let mut target = http::uri::Builder::new()
        .scheme(upstream.scheme_str().unwrap_or("http"))
        .authority(authority);
    target = target.path_and_query(
        parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/"),
    );
    parts.uri = target.build().map_err(|_| Dropped)?;
    // hyper-util only adds Host when it is missing, so unless asked to rewrite it, the
    // caller's Host (which SigV4 signed) reaches the upstream unchanged.
    if shared.rewrite_host {
        let host = http::HeaderValue::from_str(authority).map_err(|_| Dropped)?;
        parts.headers.insert(http::header::HOST, host);
    }
    let resp = match client.request(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => {
            // An unreachable upstream (or one whose certificate does not verify) looks to
            // the caller like what it is: a connection that yields no answer.
            tracing::debug!(
                upstream = %upstream,
                error = %error_chain(&e),
                "fault proxy: upstream unreachable"
            );
            return Err(Dropped);
        }
    };

    match fault {
        Some(Fault::Kill {
            pid,
            when: When::AfterForward,
        }) => {
            kill(pid);
            return Err(Dropped);
        }
        Some(Fault::Drop {
            when: When::AfterForward,
        }) => return Err(Dropped),
        _ => {}
    }
    record(Some(resp.status().as_u16()));
    Ok(resp.map(|b| b.boxed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_hide_variable_segments() {
        let uri: Uri = "/bkt/backups/alice/0f8fad5b-d9cb-469f-a165-70867728950e?x-id=PutObject"
            .parse()
            .unwrap();
        assert_eq!(
            path_pattern(&uri),
            "/bkt/backups/alice/{uuid}?x-id=PutObject"
        );
        let uri: Uri = "/bkt?prefix=backups%2F&list-type=2".parse().unwrap();
        assert_eq!(path_pattern(&uri), "/bkt?list-type&prefix");
        let uri: Uri = "/v1/backup/12".parse().unwrap();
        assert_eq!(path_pattern(&uri), "/v1/backup/{n}");
    }

    #[test]
    fn bad_upstream_is_rejected() {
        assert!(matches!(
            parse_upstream("ftp://x"),
            Err(FaultError::BadUpstream(_))
        ));
        assert!(matches!(
            parse_upstream("nonsense"),
            Err(FaultError::BadUpstream(_))
        ));
        assert!(parse_upstream("http://127.0.0.1:9").is_ok());
        assert!(parse_upstream("https://backup.example").is_ok());
        assert!(parse_upstream("https://backup.example:8443/api").is_ok());
    }

    #[test]
    fn extra_roots_must_be_certificates() {
        assert!(matches!(
            connector(Some(b"not pem")),
            Err(FaultError::Tls(m)) if m.contains("no CERTIFICATE")
        ));
        assert!(connector(None).is_ok());
    }
}
