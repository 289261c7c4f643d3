//! The fault proxy in front of a real S3 server (the embedded s3s-fs, SigV4 enforced):
//! signatures made for the proxy's address verify upstream, and steps are recorded with
//! stable patterns.

use backproof_faults::{Fault, FaultProxy, Rule, StepMatch, When};
use backproof_stack::{S3Handle, s3_client};

#[tokio::test]
async fn sigv4_passes_through_and_faults_apply_to_s3_requests() {
    let s3 = S3Handle::embedded().await.unwrap();
    let proxy = FaultProxy::start(s3.endpoint()).await.unwrap();
    let client = s3_client(&proxy.url(), s3.access_key(), s3.secret_key(), s3.region());
    let bucket = s3.bucket();

    let mut labels = Vec::new();
    for round in 0..2 {
        proxy.reset();
        let key = format!("backups/alice/{}", uuid::Uuid::new_v4());
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .body(vec![round as u8; 64].into())
            .send()
            .await
            .expect("a SigV4-signed PUT through the proxy is accepted");
        let got = client
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().to_vec(),
            vec![round as u8; 64]
        );
        client
            .delete_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        let steps = proxy.steps();
        assert!(
            steps.iter().all(|s| s.status.is_some_and(|c| c < 300)),
            "{steps:?}"
        );
        labels.push(steps.iter().map(|s| s.label()).collect::<Vec<_>>());
    }
    // Same operation, fresh uuid: same recorded steps.
    assert_eq!(labels[0], labels[1]);
    assert_eq!(labels[0].len(), 3, "{:?}", labels[0]);
    assert!(
        labels[0][0].starts_with(&format!("PUT /{bucket}/backups/alice/{{uuid}}")),
        "{:?}",
        labels[0]
    );

    // A 503 on the PUT surfaces to the SDK (which retries it); a dropped answer too.
    proxy.reset();
    proxy.arm(Rule {
        at: 1,
        matching: StepMatch {
            method: Some("PUT".into()),
            pattern_prefix: None,
        },
        fault: Fault::Status(503),
    });
    let r = client
        .put_object()
        .bucket(bucket)
        .key("k")
        .body(vec![1u8; 40].into())
        .send()
        .await;
    // The SDK's retry succeeds on the second PUT.
    assert!(r.is_ok(), "{r:?}");
    let puts: Vec<Option<u16>> = proxy
        .steps()
        .iter()
        .filter(|s| s.method == "PUT")
        .map(|s| s.status)
        .collect();
    assert_eq!(puts, [Some(503), Some(200)]);

    proxy.reset();
    proxy.arm(Rule::at_step(
        1,
        Fault::Drop {
            when: When::AfterForward,
        },
    ));
    let _ = client.delete_object().bucket(bucket).key("k").send().await;
    // Forwarded before the drop: the object is gone whatever the SDK concluded.
    let head = client.head_object().bucket(bucket).key("k").send().await;
    assert!(head.is_err(), "object still there after a forwarded DELETE");
}
