//! The stack on real processes: a throwaway initdb cluster and the embedded s3s-fs server.

use aws_sdk_s3::primitives::ByteStream;
use backproof_stack::{
    PgHandle, S3Handle, Stack, StackChoice, StackError, process_alive, s3_client,
};
use sqlx::Connection;

async fn connect(url: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    sqlx::PgConnection::connect(url).await
}

#[tokio::test]
async fn throwaway_cluster_serves_isolated_databases_survives_restart_and_leaves_nothing() {
    let pg = PgHandle::throwaway().await.unwrap();
    assert!(
        pg.describe().contains("(throwaway initdb)"),
        "{}",
        pg.describe()
    );
    assert!(
        pg.describe().starts_with("postgres 15"),
        "{}",
        pg.describe()
    );
    let pid = pg.pid().expect("postmaster.pid while running") as i32;
    let dir = pg.dir().unwrap().to_owned();
    assert!(process_alive(pid));
    assert!(dir.join("data/PG_VERSION").is_file());

    let mut base = connect(pg.url()).await.unwrap();
    let two: i32 = sqlx::query_scalar("SELECT 1 + 1")
        .fetch_one(&mut base)
        .await
        .unwrap();
    assert_eq!(two, 2);
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut base)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1");
    let fsync: String = sqlx::query_scalar("SHOW fsync")
        .fetch_one(&mut base)
        .await
        .unwrap();
    assert_eq!(fsync, "off");
    if nix::unistd::geteuid().is_root() {
        // initdb/postgres refuse root: the server must run as uid 65534.
        let owner: String = sqlx::query_scalar("SELECT current_setting('data_directory')")
            .fetch_one(&mut base)
            .await
            .unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(owner).unwrap().uid(), 65534);
    }
    base.close().await.unwrap();

    // Two databases are isolated: a table made in one is absent from the other.
    let url_a = pg.create_database("case_a").await.unwrap();
    let url_b = pg
        .create_unique_database("case b::with/odd chars")
        .await
        .unwrap();
    assert_ne!(url_a, url_b);
    let mut a = connect(&url_a).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (v int); INSERT INTO t VALUES (7)")
        .execute(&mut a)
        .await
        .unwrap();
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut a)
        .await
        .unwrap();
    assert_eq!(db, "case_a");
    let mut b = connect(&url_b).await.unwrap();
    let missing = sqlx::query("SELECT v FROM t").fetch_one(&mut b).await;
    assert!(missing.is_err(), "table t leaked into the second database");
    b.close().await.unwrap();

    // Same name twice: the server refuses, the error names the statement.
    let err = pg.create_database("case_a").await.unwrap_err();
    assert!(err.to_string().contains("CREATE DATABASE case_a"), "{err}");
    // Garbage names never reach the server.
    let err = pg
        .create_database("x\"; DROP DATABASE case_a; --")
        .await
        .unwrap_err();
    assert!(matches!(err, StackError::InvalidName { .. }), "{err}");

    // Outage: stop cuts the open connection and refuses new ones; start brings the same
    // data back on the same URL.
    pg.stop().await.unwrap();
    assert!(!process_alive(pid), "postmaster {pid} survived stop()");
    assert!(sqlx::query("SELECT 1").execute(&mut a).await.is_err());
    assert!(connect(&url_a).await.is_err());
    pg.start().await.unwrap();
    let mut a = connect(&url_a).await.unwrap();
    let v: i32 = sqlx::query_scalar("SELECT v FROM t")
        .fetch_one(&mut a)
        .await
        .unwrap();
    assert_eq!(v, 7);
    a.close().await.unwrap();
    let pid = pg.pid().unwrap() as i32;
    assert!(process_alive(pid));

    drop(pg);
    assert!(!process_alive(pid), "postmaster {pid} outlived the handle");
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[tokio::test]
async fn embedded_s3_round_trip_enforces_sigv4_and_survives_restart() {
    let s3 = S3Handle::embedded().await.unwrap();
    assert_eq!(s3.describe(), "s3s-fs 0.14.1 (embedded)");
    assert!(
        s3.endpoint().starts_with("http://127.0.0.1:"),
        "{}",
        s3.endpoint()
    );
    let root = s3.data_dir().unwrap().to_owned();
    let client = s3.client().await;
    let bucket = s3.bucket();

    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    client
        .put_object()
        .bucket(bucket)
        .key("backups/alice/one")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    client
        .put_object()
        .bucket(bucket)
        .key("backups/bob/two")
        .body(ByteStream::from_static(b"second"))
        .send()
        .await
        .unwrap();

    let head = client
        .head_object()
        .bucket(bucket)
        .key("backups/alice/one")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    let got = client
        .get_object()
        .bucket(bucket)
        .key("backups/alice/one")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(got.as_ref(), body.as_slice());

    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix("backups/alice/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["backups/alice/one"]);

    client
        .delete_object()
        .bucket(bucket)
        .key("backups/alice/one")
        .send()
        .await
        .unwrap();
    let gone = client
        .head_object()
        .bucket(bucket)
        .key("backups/alice/one")
        .send()
        .await
        .unwrap_err();
    assert!(
        gone.as_service_error().is_some_and(|e| e.is_not_found()),
        "{gone:?}"
    );

    // SigV4 is enforced: a wrong secret or an unknown access key is refused.
    for (ak, sk) in [
        (s3.access_key(), "wrong-secret"),
        ("intruder", s3.secret_key()),
    ] {
        let bad = s3_client(s3.endpoint(), ak, sk, s3.region());
        let err = bad
            .get_object()
            .bucket(bucket)
            .key("backups/bob/two")
            .send()
            .await
            .unwrap_err();
        let code = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(code, Some(403), "{ak}/{sk}: {err:?}");
    }

    // Outage: stopped, requests fail; started again, same port, same data.
    s3.stop().await.unwrap();
    let down = client
        .head_object()
        .bucket(bucket)
        .key("backups/bob/two")
        .send()
        .await;
    assert!(down.is_err(), "request succeeded while S3 was stopped");
    s3.start().await.unwrap();
    let got = client
        .get_object()
        .bucket(bucket)
        .key("backups/bob/two")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(got.as_ref(), b"second");

    // Bucket names outside S3's rules are refused before any request.
    assert!(matches!(
        s3.create_bucket("ab").await.unwrap_err(),
        StackError::InvalidName { .. }
    ));
    s3.create_bucket("second-bucket").await.unwrap();
    assert!(root.join("second-bucket").is_dir());

    drop(s3);
    assert!(!root.exists(), "{} was not removed", root.display());
}

#[tokio::test]
async fn local_stack_describes_itself_and_exports_what_reaches_it() {
    let stack = Stack::start(StackChoice::Local).await.unwrap();
    let describe = stack.describe();
    assert!(describe.contains("(throwaway initdb) + "), "{describe}");
    if which::which("minio").is_err() {
        assert!(describe.ends_with("s3s-fs 0.14.1 (embedded)"), "{describe}");
    }
    let env: std::collections::HashMap<_, _> = stack.env().into_iter().collect();
    assert_eq!(env.len(), 6);
    assert_eq!(env["BACKPROOF_S3_REGION"], "us-east-1");

    // The printed variables alone are enough to reach both services.
    let mut conn = connect(&env["BACKPROOF_DATABASE_URL"]).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let client = s3_client(
        &env["BACKPROOF_S3_ENDPOINT"],
        &env["BACKPROOF_S3_ACCESS_KEY"],
        &env["BACKPROOF_S3_SECRET_KEY"],
        &env["BACKPROOF_S3_REGION"],
    );
    client
        .head_bucket()
        .bucket(&env["BACKPROOF_S3_BUCKET"])
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn containers_without_docker_fail_with_advice() {
    if backproof_stack::docker_engine().is_ok() {
        eprintln!("a Docker engine answers here; the no-Docker path is covered by the CLI test");
        return;
    }
    let err = Stack::start(StackChoice::Containers).await.unwrap_err();
    assert!(matches!(err, StackError::DockerUnavailable { .. }), "{err}");
    assert!(err.is_missing_infrastructure());
    let msg = err.to_string();
    assert!(msg.contains("no Docker engine answers"), "{msg}");
    assert!(msg.contains("--stack local"), "{msg}");
    let err = PgHandle::container().await.unwrap_err();
    assert!(matches!(err, StackError::DockerUnavailable { .. }), "{err}");
    let err = S3Handle::container().await.unwrap_err();
    assert!(matches!(err, StackError::DockerUnavailable { .. }), "{err}");
}

#[tokio::test]
async fn external_providers_reject_bad_settings_with_the_variable_name() {
    let err = PgHandle::external("mysql://root@127.0.0.1/x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("BACKPROOF_DATABASE_URL"), "{err}");
    let err = S3Handle::external("127.0.0.1:9000", "a", "b", "backproof", "us-east-1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("BACKPROOF_S3_ENDPOINT"), "{err}");
    // A server that is not there: the error says which URL, without its password.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = PgHandle::external(&format!("postgres://u:hunter2@127.0.0.1:{port}/postgres"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(!msg.contains("hunter2"), "password leaked: {msg}");
}
