//! `backproof_server::serve` (here through `backproof-test-server`) stops gracefully on
//! SIGTERM and SIGINT: exit status 0, listener closed.

mod common;

use common::Env;
use common::child::ServerProcess;
use nix::sys::signal::Signal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_the_server_with_status_0() {
    let env = Env::start("signals").await;
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let mut server = ServerProcess::start(&env, None).await;
        let base = server.url().to_owned();
        let health = reqwest::get(format!("{base}/healthz"))
            .await
            .expect("healthz answered");
        assert_eq!(health.status(), reqwest::StatusCode::OK);

        server.signal(sig);
        let status = server.wait_exit().await;
        assert!(
            status.success(),
            "{sig}: expected exit 0, got {status}; stderr:\n{}",
            server.stderr()
        );
        // The process is gone, so nothing listens on its port any more.
        let addr = base.trim_start_matches("http://");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{sig}: {addr} still accepts connections"
        );
    }
}
