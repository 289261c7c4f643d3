//! The proxy against a real HTTP upstream (a tiny hyper server that records what reached
//! it) and real processes to kill.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backproof_faults::{Fault, FaultProxy, Rule, StepMatch, When};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the upstream saw: "METHOD path host body".
type Seen = Arc<Mutex<Vec<String>>>;

async fn upstream() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let s = s.clone();
                    async move {
                        let method = req.method().to_string();
                        let pq = req.uri().path_and_query().unwrap().to_string();
                        let host = req
                            .headers()
                            .get("host")
                            .map(|h| h.to_str().unwrap().to_string())
                            .unwrap_or_default();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let line =
                            format!("{method} {pq} {host} {}", String::from_utf8_lossy(&body));
                        s.lock().unwrap().push(line.clone());
                        Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(line))))
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

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn forwards_method_path_host_and_body_verbatim() {
    let (up, seen) = upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    let resp = http()
        .put(format!("{}/bkt/obj?x-id=PutObject&a=1", proxy.url()))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let host = proxy.addr().to_string();
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [format!("PUT /bkt/obj?x-id=PutObject&a=1 {host} hello")]
    );
    let steps = proxy.steps();
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].label(), "PUT /bkt/obj?a&x-id=PutObject");
    assert_eq!(steps[0].status, Some(200));
}

async fn kill_case(when: When) {
    let (up, seen) = upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    let mut child = tokio::process::Command::new("sleep")
        .arg("300")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    proxy.arm(Rule::at_step(2, Fault::Kill { pid, when }));
    let c = http();
    assert_eq!(
        c.get(format!("{}/one", proxy.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(child.try_wait().unwrap().is_none(), "killed too early");
    let second = c.get(format!("{}/two", proxy.url())).send().await;
    assert!(second.is_err(), "step 2 must get no answer, got {second:?}");
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("the process must die")
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    // After reaping, the pid no longer names a process.
    let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None);
    assert_eq!(gone, Err(nix::errno::Errno::ESRCH));
    assert_eq!(
        c.get(format!("{}/three", proxy.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    match when {
        When::BeforeForward => assert_eq!(paths, ["/one", "/three"]),
        When::AfterForward => assert_eq!(paths, ["/one", "/two", "/three"]),
    }
    let steps = proxy.steps();
    assert_eq!(steps.len(), 3);
    assert_eq!(steps[1].status, None);
    assert!(proxy.all_fired());
}

#[tokio::test]
async fn kill_before_forward_kills_and_withholds_the_request() {
    kill_case(When::BeforeForward).await;
}

#[tokio::test]
async fn kill_after_forward_kills_after_the_upstream_handled_it() {
    kill_case(When::AfterForward).await;
}

#[tokio::test]
async fn injects_status_and_drops() {
    let (up, seen) = upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    proxy.arm(Rule::at_step(1, Fault::Status(503)));
    proxy.arm(Rule::at_step(
        2,
        Fault::Drop {
            when: When::AfterForward,
        },
    ));
    proxy.arm(Rule::at_step(
        3,
        Fault::Drop {
            when: When::BeforeForward,
        },
    ));
    let c = http();
    let r = c
        .post(format!("{}/a", proxy.url()))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(
        c.post(format!("{}/b", proxy.url()))
            .body("y")
            .send()
            .await
            .is_err()
    );
    assert!(
        c.post(format!("{}/c", proxy.url()))
            .body("z")
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        c.post(format!("{}/d", proxy.url()))
            .body("w")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let paths: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().to_string())
        .collect();
    // 503 and drop-before never reach the upstream; drop-after does.
    assert_eq!(paths, ["/b", "/d"]);
    let statuses: Vec<Option<u16>> = proxy.steps().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [Some(503), None, None, Some(200)]);
}

#[tokio::test]
async fn matching_rules_count_only_their_requests_and_ignored_traffic_is_invisible() {
    let (up, seen) = upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    proxy.set_ignored(vec![StepMatch {
        method: Some("GET".into()),
        pattern_prefix: Some("/healthz".into()),
    }]);
    proxy.arm(Rule {
        at: 2,
        matching: StepMatch {
            method: Some("PUT".into()),
            pattern_prefix: None,
        },
        fault: Fault::Status(500),
    });
    let c = http();
    let u = proxy.url();
    assert_eq!(c.put(format!("{u}/x")).send().await.unwrap().status(), 200);
    assert_eq!(
        c.get(format!("{u}/healthz")).send().await.unwrap().status(),
        200
    );
    assert_eq!(c.get(format!("{u}/y")).send().await.unwrap().status(), 200);
    assert_eq!(c.put(format!("{u}/z")).send().await.unwrap().status(), 500);
    let labels: Vec<String> = proxy.steps().iter().map(|s| s.label()).collect();
    assert_eq!(labels, ["PUT /x", "GET /y", "PUT /z"]);
    assert_eq!(seen.lock().unwrap().len(), 3);
    proxy.reset();
    assert!(proxy.steps().is_empty());
}

#[tokio::test]
async fn delay_then_forward_and_switch_upstream() {
    let (up1, seen1) = upstream().await;
    let (up2, seen2) = upstream().await;
    let proxy = FaultProxy::start(&up1).await.unwrap();
    proxy.arm(Rule::at_step(1, Fault::Delay(Duration::from_millis(50))));
    let c = http();
    assert_eq!(
        c.get(format!("{}/a", proxy.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    proxy.set_upstream(&up2).unwrap();
    assert_eq!(
        c.get(format!("{}/b", proxy.url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(seen1.lock().unwrap().len(), 1);
    assert_eq!(seen2.lock().unwrap().len(), 1);
    assert!(proxy.set_upstream("not a url").is_err());
}

#[tokio::test]
async fn dead_upstream_gives_no_answer() {
    let proxy = FaultProxy::start("http://127.0.0.1:1").await.unwrap();
    assert!(
        http()
            .get(format!("{}/a", proxy.url()))
            .send()
            .await
            .is_err()
    );
    assert_eq!(proxy.steps()[0].status, None);
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test]
async fn records_exchanges_up_to_a_limit_and_counts_the_rest() {
    let (up, _seen) = upstream().await;
    let proxy = FaultProxy::start(&up).await.unwrap();
    // Nothing is kept before recording starts.
    http()
        .get(format!("{}/before", proxy.url()))
        .send()
        .await
        .unwrap();
    proxy.record_exchanges(3);
    proxy.arm(Rule {
        at: 1,
        matching: StepMatch {
            method: Some("GET".into()),
            pattern_prefix: Some("/v1/fail".into()),
        },
        fault: Fault::Status(503),
    });
    let resp = http()
        .post(format!("{}/v1/backup?x=1", proxy.url()))
        .header("if-match", "\"3\"")
        .body("hello")
        .send()
        .await
        .unwrap();
    let answer = resp.bytes().await.unwrap();
    assert!(answer.starts_with(b"POST /v1/backup?x=1"), "{answer:?}");
    let resp = http()
        .get(format!("{}/v1/fail", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    http()
        .get(format!("{}/third", proxy.url()))
        .send()
        .await
        .unwrap();
    http()
        .get(format!("{}/fourth", proxy.url()))
        .send()
        .await
        .unwrap();
    http()
        .get(format!("{}/fifth", proxy.url()))
        .send()
        .await
        .unwrap();

    let (ex, overflow) = proxy.take_exchanges();
    assert_eq!(overflow, 2);
    assert_eq!(
        ex.iter().map(|e| e.target.as_str()).collect::<Vec<_>>(),
        ["/v1/backup?x=1", "/v1/fail", "/third"]
    );
    let post = &ex[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.if_match.as_deref(), Some("\"3\""));
    assert_eq!(post.request_sha256, sha256_hex(b"hello"));
    assert_eq!(post.status, Some(200));
    assert_eq!(post.response_body.as_deref(), Some(&answer[..]));
    assert_eq!(post.response_sha256, sha256_hex(&answer));
    assert!(post.started <= post.finished);
    assert_eq!(ex[1].status, Some(503));
    assert_eq!(ex[1].if_match, None);
    assert_eq!(ex[1].request_sha256, sha256_hex(b""));
    assert_eq!(ex[2].method, "GET");
    // Taking the recording stops it.
    http()
        .get(format!("{}/after", proxy.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(proxy.take_exchanges(), (vec![], 0));
}
