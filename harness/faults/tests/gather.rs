//! `Fault::Gather`: a window's requests are held until all of them have arrived, then
//! forwarded one at a time; one left alone is dropped after the bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backproof_faults::{Fault, FaultProxy, Rule, StepMatch};
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// An upstream that answers 200 and counts what reached it.
async fn counting_upstream() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let counter = counter.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"up"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

fn gather_puts(within: Duration) -> Rule {
    Rule {
        at: 1,
        matching: StepMatch {
            method: Some("PUT".into()),
            pattern_prefix: None,
        },
        fault: Fault::Gather(within),
    }
}

async fn put(url: String) -> Result<u16, reqwest::Error> {
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    c.put(format!("{url}/o"))
        .body("x")
        .send()
        .await
        .map(|r| r.status().as_u16())
}

/// Waits (bounded) until the proxy has numbered `n` requests: a condition, not a sleep.
async fn until_steps(proxy: &FaultProxy, n: usize) {
    for _ in 0..600 {
        if proxy.steps().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy never saw {n} requests");
}

#[tokio::test]
async fn the_first_write_waits_for_the_second_then_both_pass() {
    let (up, seen) = counting_upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    proxy.arm_window(gather_puts(Duration::from_secs(60)), 2);

    let first = tokio::spawn(put(proxy.url()));
    until_steps(&proxy, 1).await;
    // A GET passes untouched while the PUT is held; the held PUT has not reached upstream,
    // and nothing but a second PUT can release it, so this holds on any machine.
    let got = reqwest::get(format!("{}/o", proxy.url())).await.unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the held PUT was forwarded alone"
    );
    assert!(
        !first.is_finished(),
        "the first PUT was answered before the second came"
    );

    let second = put(proxy.url()).await.unwrap();
    assert_eq!(second, 200);
    assert_eq!(first.await.unwrap().unwrap(), 200);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert!(proxy.all_fired());
    // The window is spent: a third PUT passes at once.
    assert_eq!(put(proxy.url()).await.unwrap(), 200);
}

#[tokio::test]
async fn a_write_left_alone_is_dropped_after_the_bound() {
    let (up, seen) = counting_upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    proxy.arm_window(gather_puts(Duration::from_millis(300)), 2);
    let alone = put(proxy.url()).await;
    assert!(
        alone.is_err(),
        "a lone gathered PUT was answered: {alone:?}"
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a lone gathered PUT reached upstream"
    );
}
