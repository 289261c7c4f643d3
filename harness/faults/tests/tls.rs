//! The proxy in front of a real HTTPS upstream: a self-signed certificate for `localhost`
//! (rcgen) served by tokio-rustls + hyper on 127.0.0.1. The proxy still listens plain HTTP;
//! it opens its own TLS connection upstream and must verify the certificate.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backproof_faults::{Fault, FaultProxy, ProxyOptions, Rule, When};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;

/// What the upstream saw: "METHOD path host".
type Seen = Arc<Mutex<Vec<String>>>;

struct TlsUpstream {
    /// `https://localhost:PORT`.
    url: String,
    /// `localhost:PORT`.
    authority: String,
    /// The self-signed certificate, to trust it explicitly.
    cert_pem: Vec<u8>,
    seen: Seen,
}

/// An HTTPS echo server: answers "METHOD path host" with what reached it.
async fn tls_upstream() -> TlsUpstream {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let s = s.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate aborts the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<Incoming>| {
                    let s = s.clone();
                    async move {
                        let pq = req.uri().path_and_query().unwrap().to_string();
                        let host = req
                            .headers()
                            .get("host")
                            .map(|h| h.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let line = format!("{} {pq} {host}", req.method());
                        s.lock().unwrap().push(line.clone());
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(line))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    TlsUpstream {
        url: format!("https://localhost:{port}"),
        authority: format!("localhost:{port}"),
        cert_pem: certified.cert.pem().into_bytes(),
        seen,
    }
}

fn http() -> reqwest::Client {
    // The bound keeps a broken proxy from hanging the test; the drop cases assert the
    // error is not this timeout.
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn proxy_to(up: &TlsUpstream, rewrite_host: bool) -> FaultProxy {
    FaultProxy::start_with(
        &up.url,
        ProxyOptions {
            rewrite_host,
            extra_root_pem: Some(up.cert_pem.clone()),
        },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn https_upstream_with_host_rewritten() {
    let up = tls_upstream().await;
    let proxy = proxy_to(&up, true).await;
    let resp = http()
        .get(format!("{}/api/v1/backup?x=1", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let expected = format!("GET /api/v1/backup?x=1 {}", up.authority);
    assert_eq!(resp.text().await.unwrap(), expected);
    assert_eq!(up.seen.lock().unwrap().as_slice(), [expected]);
    let steps = proxy.steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].label(), "GET /api/v1/backup?x");
    assert_eq!(steps[0].status, Some(200));
}

#[tokio::test]
async fn https_upstream_keeps_callers_host_by_default() {
    let up = tls_upstream().await;
    let proxy = proxy_to(&up, false).await;
    let resp = http()
        .get(format!("{}/v1/backup", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        up.seen.lock().unwrap().as_slice(),
        [format!("GET /v1/backup {}", proxy.addr())]
    );
}

#[tokio::test]
async fn faults_apply_on_the_https_path() {
    let up = tls_upstream().await;
    let proxy = proxy_to(&up, true).await;
    let c = http();
    proxy.arm(Rule::at_step(1, Fault::Status(503)));
    proxy.arm(Rule::at_step(
        2,
        Fault::Drop {
            when: When::AfterForward,
        },
    ));
    let first = c.get(format!("{}/one", proxy.url())).send().await.unwrap();
    assert_eq!(first.status(), 503);
    assert!(up.seen.lock().unwrap().is_empty(), "503 is not forwarded");
    let second = c.put(format!("{}/two", proxy.url())).send().await;
    let err = second.expect_err("step 2 must get no answer");
    assert!(!err.is_timeout(), "dropped, not hung: {err}");
    // AfterForward: the upstream handled it over TLS, the caller saw nothing.
    assert_eq!(
        up.seen.lock().unwrap().as_slice(),
        [format!("PUT /two {}", up.authority)]
    );
    assert!(proxy.all_fired());
    let steps: Vec<_> = proxy.steps().iter().map(|s| s.status).collect();
    assert_eq!(steps, [Some(503), None]);
}

/// Collects what the proxy logs, to check the reason reaches the debug log.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn untrusted_certificate_drops_the_connection() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The default test runtime is single-threaded: the proxy's tasks log on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let up = tls_upstream().await;
    // Trusts another self-signed certificate, not the upstream's: the handshake must fail
    // whatever the machine's trust store holds.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let proxy = FaultProxy::start_with(
        &up.url,
        ProxyOptions {
            rewrite_host: true,
            extra_root_pem: Some(other.cert.pem().into_bytes()),
        },
    )
    .await
    .unwrap();
    let err = http()
        .get(format!("{}/v1/backup", proxy.url()))
        .send()
        .await
        .expect_err("an untrusted upstream must give no answer");
    assert!(!err.is_timeout(), "dropped, not hung: {err}");
    assert!(up.seen.lock().unwrap().is_empty());
    assert_eq!(proxy.steps()[0].status, None);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("upstream unreachable")
            && text.contains(&up.url)
            && text.contains("certificate"),
        "debug log must name the upstream and the certificate problem:\n{text}"
    );
}
