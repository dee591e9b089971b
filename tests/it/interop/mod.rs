//! tus-client and tus-retry against the real servers, rustus and @tus/server, started on loopback by
//! `tus_tests::real::RealServer`. A server that is not installed fails the test (never a skip): run
//! `cargo xtask servers install`.
//!
//! Stored bytes are read back from each server's data directory and compared byte for byte.
//!
//! - [`ops`]: every tus-client operation each server supports.
//! - [`flows`]: the tus-retry `Uploader` flows.

mod flows;
mod ops;

use std::future::Future;
use std::time::Duration;

use tus_client::Client;
use tus_tests::real::{NodeOptions, RealServer, RustusOptions, ServerKind};
use tus_tests::util::data;

/// Runs a test body with a hard deadline.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(120), f).await.expect("test timed out")
}

/// Starts a server with its default settings (rustus: the 256 KiB PATCH body limit).
async fn start(kind: ServerKind) -> RealServer {
    let started = match kind {
        ServerKind::Rustus => RealServer::rustus(RustusOptions::default()).await,
        ServerKind::Node => RealServer::node(NodeOptions::default()).await,
    };
    started.unwrap_or_else(|e| panic!("{kind} must be installed and start: {e}"))
}

async fn rustus(options: RustusOptions) -> RealServer {
    RealServer::rustus(options).await.unwrap_or_else(|e| panic!("rustus must be installed and start: {e}"))
}

async fn node(options: NodeOptions) -> RealServer {
    RealServer::node(options).await.unwrap_or_else(|e| panic!("@tus/server must be installed and start: {e}"))
}

/// A chunk size the server takes in one PATCH with its default settings.
fn chunk(kind: ServerKind) -> u64 {
    match kind {
        ServerKind::Rustus => 256 * 1024,
        ServerKind::Node => 1024 * 1024,
    }
}

fn client() -> Client {
    Client::builder().stall_timeout(Some(Duration::from_secs(20))).build().expect("client")
}

/// How many uploads the server keeps records of in its data directory (rustus `<id>.info`,
/// @tus/server `<id>.json`).
fn upload_count(server: &RealServer) -> usize {
    let ext = match server.kind() {
        ServerKind::Rustus => "info",
        ServerKind::Node => "json",
    };
    std::fs::read_dir(server.data_dir())
        .expect("data dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == ext))
        .count()
}

/// Asserts the server stored exactly `bytes` for `url`.
#[track_caller]
fn assert_stored(server: &RealServer, url: &url::Url, bytes: &[u8]) {
    let stored = server.stored_bytes(url).unwrap_or_else(|e| panic!("{}: stored bytes of {url}: {e}", server.kind()));
    assert_eq!(stored.len(), bytes.len(), "{}: stored length of {url}", server.kind());
    assert!(stored == bytes, "{}: stored bytes of {url} differ", server.kind());
}

/// Declares `#[tokio::test]`s `rustus_<name>` and `node_<name>` running `<name>(ServerKind)`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod rustus {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::bounded(super::$name(tus_tests::real::ServerKind::Rustus)).await;
                }
            )*
        }
        mod node {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::bounded(super::$name(tus_tests::real::ServerKind::Node)).await;
                }
            )*
        }
    };
}
use both;
