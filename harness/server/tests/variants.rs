//! The deliberately broken servers behind the hidden `--unsafe-*` flags (docs/API.md,
//! "Broken variants") misbehave as their names say — and the reference, on the same stack
//! and requests, does not. The suite proves it catches them; these tests prove they are
//! broken in the way the suite must catch.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backproof_server::{Config, Hook};
use common::{Env, blob, sha256_hex, token};
use reqwest::{Client, StatusCode};

async fn post(base: &str, tok: &str, if_match: Option<&str>, body: Vec<u8>) -> StatusCode {
    let mut rb = Client::new()
        .post(format!("{base}/v1/backup"))
        .bearer_auth(tok)
        .body(body);
    if let Some(v) = if_match {
        rb = rb.header("if-match", v);
    }
    rb.send().await.expect("POST sent").status()
}

async fn get(base: &str, tok: &str, extra: &[(&str, &str)], query: &str) -> (StatusCode, Vec<u8>) {
    let mut rb = Client::new()
        .get(format!("{base}/v1/backup{query}"))
        .bearer_auth(tok);
    for (k, v) in extra {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.expect("GET sent");
    (r.status(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_on_failed_put_leaves_a_row_naming_a_missing_object() {
    for broken in [false, true] {
        let env = Env::start(if broken { "failedput_bad" } else { "failedput" }).await;
        let mut cfg = env.config();
        cfg.unsafe_flags.commit_on_failed_put = broken;
        let (base, _h) = env.server(cfg).await;
        let t = token("fay");
        assert_eq!(
            post(&base, &t, None, blob(1, 64)).await,
            StatusCode::CREATED
        );

        env.stack.s3.stop().await.unwrap();
        let status = post(&base, &t, Some("1"), blob(2, 64)).await;
        env.stack.s3.start().await.unwrap();
        let rows = env.rows().await;
        let (got, _) = get(&base, &t, &[], "").await;
        if broken {
            assert_eq!(status, StatusCode::OK, "the broken server acknowledges");
            assert_eq!(rows[0].1, 2, "and commits version 2");
            assert_eq!(rows[0].3, sha256_hex(&blob(2, 64)));
            assert!(
                !env.objects().await.contains(&rows[0].2),
                "naming no object"
            );
            assert_eq!(got, StatusCode::INTERNAL_SERVER_ERROR);
        } else {
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(rows[0].1, 1, "nothing committed");
            assert_eq!(got, StatusCode::OK);
        }
    }
}

/// A GET whose row names the object a concurrent update is deleting: the hook runs the
/// update (commit and delete of the old object) between the GET's row read and its fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_racing_an_update_reads_the_row_again() {
    for broken in [false, true] {
        let env = Env::start(if broken { "getrace_bad" } else { "getrace" }).await;
        let t = token("gus");
        let base_slot: Arc<std::sync::OnceLock<String>> = Arc::default();
        let fired = Arc::new(AtomicBool::new(false));
        let hook: Hook = {
            let (base_slot, fired, t) = (base_slot.clone(), fired.clone(), t.clone());
            Arc::new(move || {
                let (base_slot, fired, t) = (base_slot.clone(), fired.clone(), t.clone());
                Box::pin(async move {
                    if fired.swap(true, Ordering::SeqCst) {
                        return; // only the first read races
                    }
                    let base = base_slot.get().expect("base URL set").clone();
                    let s = post(&base, &t, Some("1"), blob(2, 64)).await;
                    assert_eq!(s, StatusCode::OK, "the racing update commits");
                })
            })
        };
        let mut cfg: Config = env.config();
        cfg.hooks.get_after_row_read = Some(hook);
        cfg.unsafe_flags.no_reread_on_get_race = broken;
        let (base, _h) = env.server(cfg).await;
        base_slot.set(base.clone()).unwrap();
        assert_eq!(
            post(&base, &t, None, blob(1, 64)).await,
            StatusCode::CREATED
        );

        let (status, body) = get(&base, &t, &[], "").await;
        assert!(fired.load(Ordering::SeqCst), "the race was staged");
        if broken {
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        } else {
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, blob(2, 64), "the version the row names now");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_delete_objects_keeps_every_object() {
    for broken in [false, true] {
        let env = Env::start(if broken { "nodelete_bad" } else { "nodelete" }).await;
        let mut cfg = env.config();
        cfg.unsafe_flags.never_delete_objects = broken;
        let (base, handle) = env.server(cfg).await;
        let t = token("nell");
        assert_eq!(
            post(&base, &t, None, blob(1, 64)).await,
            StatusCode::CREATED
        );
        assert_eq!(
            post(&base, &t, Some("1"), blob(2, 64)).await,
            StatusCode::OK
        );
        let r = Client::new()
            .delete(format!("{base}/v1/backup"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        handle.sweep_now().await.unwrap();
        let left = env.objects().await.len();
        assert_eq!(left, if broken { 2 } else { 0 }, "broken: {broken}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_override_reads_another_users_backup() {
    for broken in [false, true] {
        let env = Env::start(if broken { "override_bad" } else { "override" }).await;
        let mut cfg = env.config();
        cfg.unsafe_flags.user_override = broken;
        let (base, _h) = env.server(cfg).await;
        let (alice, mallory) = (token("alice"), token("mallory"));
        let secret = blob(7, 64);
        assert_eq!(
            post(&base, &alice, None, secret.clone()).await,
            StatusCode::CREATED
        );
        for (hdrs, query) in [
            (&[("x-backproof-user", "alice")][..], ""),
            (&[][..], "?user=alice"),
        ] {
            let (status, body) = get(&base, &mallory, hdrs, query).await;
            if broken {
                assert_eq!((status, body), (StatusCode::OK, secret.clone()));
            } else {
                assert_eq!(status, StatusCode::NOT_FOUND, "mallory has no backup");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_is_unavailable_answers_a_stalled_body_503() {
    use std::io::{Read, Write};
    for broken in [false, true] {
        let env = Env::start(if broken { "stall503_bad" } else { "stall503" }).await;
        let mut cfg = env.config();
        cfg.body_idle_timeout = std::time::Duration::from_secs(1);
        cfg.unsafe_flags.stall_is_unavailable = broken;
        let (base, _h) = env.server(cfg).await;
        let t = token("sol");
        let a = common::addr(&base);
        // 500 of 1000 promised bytes, then silence until the server answers.
        let (status, _, body) = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(&a).expect("connect");
            s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
                .unwrap();
            let head = format!(
                "POST /v1/backup HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\
                 Content-Length: 1000\r\nConnection: close\r\n\r\n"
            );
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&blob(3, 500)).unwrap();
            let mut resp = Vec::new();
            s.read_to_end(&mut resp).expect("the answer arrives");
            common::parse_response(&resp)
        })
        .await
        .unwrap();
        let text = String::from_utf8_lossy(&body);
        if broken {
            assert_eq!(status, 503, "{text}");
            assert!(text.contains("storage-unavailable"), "{text}");
        } else {
            assert_eq!(status, 408, "{text}");
        }
        assert!(env.rows().await.is_empty(), "nothing committed either way");
    }
}
