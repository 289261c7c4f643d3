//! Fault windows: one rule that hits every matching request from the `at`-th on, for a
//! count or until the exchange is reset — what outlasts a client's own retries.

use std::time::Duration;

use backproof_faults::{Fault, FaultProxy, Rule, StepMatch};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// An upstream that answers 200 to everything.
async fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = service_fn(|_req: Request<hyper::body::Incoming>| async {
                    Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"up"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn put_rule(at: usize) -> Rule {
    Rule {
        at,
        matching: StepMatch {
            method: Some("PUT".into()),
            pattern_prefix: None,
        },
        fault: Fault::Status(503),
    }
}

async fn statuses(proxy: &FaultProxy, calls: &[&str]) -> Vec<u16> {
    let c = http();
    let mut out = Vec::new();
    for m in calls {
        let m = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = c.request(m, format!("{}/o", proxy.url())).send().await;
        out.push(r.unwrap().status().as_u16());
    }
    out
}

#[tokio::test]
async fn a_window_hits_count_matching_requests_in_a_row_then_forwards() {
    let proxy = FaultProxy::start(&upstream().await).await.unwrap();
    proxy.arm_window(put_rule(2), 3);
    // Other methods pass and are not counted; PUT 1 passes, PUTs 2..=4 fail, PUT 5 passes.
    let got = statuses(&proxy, &["PUT", "GET", "PUT", "PUT", "GET", "PUT", "PUT"]).await;
    assert_eq!(got, [200, 200, 503, 503, 200, 503, 200]);
    assert!(proxy.all_fired());
}

#[tokio::test]
async fn an_open_window_lasts_until_reset() {
    let proxy = FaultProxy::start(&upstream().await).await.unwrap();
    proxy.arm_window(put_rule(1), usize::MAX);
    let got = statuses(&proxy, &["PUT"; 12]).await;
    assert_eq!(got, [503; 12]);
    proxy.reset();
    assert_eq!(statuses(&proxy, &["PUT", "PUT"]).await, [200, 200]);
}

#[tokio::test]
async fn a_plain_rule_still_fires_once() {
    let proxy = FaultProxy::start(&upstream().await).await.unwrap();
    proxy.arm(put_rule(1));
    assert_eq!(statuses(&proxy, &["PUT", "PUT"]).await, [503, 200]);
}
