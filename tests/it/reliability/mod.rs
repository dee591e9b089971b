//! Reliability: the client's promise (the upload finishes and the stored bytes are exactly the source's,
//! or it says clearly why not) checked against real servers behind real network faults, and against a
//! catalogue of broken and awkward servers. `RELIABILITY.md` at the repository root lists what is proven
//! here and by which test.
//!
//! - [`proxy`]: the seeded fault proxy (cuts, stalls, resets) between the client and rustus /
//!   @tus/server; the stored file is read back from the server's data directory.
//! - [`tls`]: a TLS-terminating proxy in front of the same servers (CA trust and certificate pinning),
//!   also with the fault proxy in front of it.
//! - [`hostile`]: the hostile-server catalogue, one table of named cases.
//!
//! Real servers that are not installed fail these tests (`cargo xtask servers install`); nothing skips.

mod hostile;
mod proxy;
mod tls;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tus_retry::{Client, Metadata, RetryConfiguration, Sleeper, Source, Uploader};
use tus_tests::real::{NodeOptions, RealServer, RustusOptions};
pub(crate) use tus_tests::util::{chain, data as payload};
use url::Url;

/// Hard bound on one upload to a real server.
pub(crate) const UPLOAD_BOUND: Duration = Duration::from_secs(120);

/// A [`Sleeper`] that counts how often it was asked to wait and either returns at once or sleeps
/// for real (for servers that must not be asked again within microseconds; see `proxy`).
#[derive(Debug, Default)]
pub(crate) struct TestSleeper {
    calls: AtomicU32,
    real: bool,
}

impl TestSleeper {
    /// Never sleeps.
    pub(crate) fn none() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Sleeps as asked (with [`brief_retry`], 100 to 400 ms).
    pub(crate) fn real() -> Arc<Self> {
        Arc::new(Self { calls: AtomicU32::new(0), real: true })
    }

    pub(crate) fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Sleeper for TestSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.real { Box::pin(tokio::time::sleep(duration)) } else { Box::pin(std::future::ready(())) }
    }
}

/// Retries that cost no time: `attempts` per budget, a no-op sleeper, seeded jitter.
pub(crate) fn fast_retry(attempts: u32, sleeper: Arc<TestSleeper>) -> RetryConfiguration {
    RetryConfiguration::default().retry_attempts(attempts).jitter_seed(0x5eed).sleeper(sleeper)
}

/// Retries after 100 ms, doubling to at most 400 ms, without jitter (give `TestSleeper::real`).
pub(crate) fn brief_retry(attempts: u32, sleeper: Arc<TestSleeper>) -> RetryConfiguration {
    RetryConfiguration::default()
        .retry_attempts(attempts)
        .initial_delay(Duration::from_millis(100))
        .max_retry_period(Duration::from_millis(400))
        .jitter(false)
        .sleeper(sleeper)
}

/// A plain-HTTP client with this stall timeout and a 2 s connect timeout.
pub(crate) fn client(stall: Duration) -> Client {
    Client::builder()
        .stall_timeout(Some(stall))
        .connect_timeout(Some(Duration::from_secs(2)))
        .build()
        .expect("client builds")
}

/// `data` written to a fresh temporary file (kept alive by the returned guard).
pub(crate) fn source_file(data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix("tus-reliability-").tempdir().expect("temp dir");
    let path = dir.path().join("source.bin");
    std::fs::write(&path, data).expect("write source file");
    (dir, path)
}

/// rustus with a body limit above the 1 MiB chunks used here; fails (never skips) if not installed.
pub(crate) async fn rustus() -> RealServer {
    let options = RustusOptions { max_body_size: Some(4 << 20), ..RustusOptions::default() };
    RealServer::rustus(options).await.unwrap_or_else(|e| panic!("{e}"))
}

/// @tus/server (FileStore); fails (never skips) if not installed.
pub(crate) async fn node(options: NodeOptions) -> RealServer {
    RealServer::node(options).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts the server stored exactly `data` for `url`, read from its data directory.
#[track_caller]
pub(crate) fn assert_stored(server: &RealServer, url: &url::Url, data: &[u8], what: &str) {
    let stored = server
        .stored_bytes(url)
        .unwrap_or_else(|e| panic!("{what}: reading the stored bytes of {url}: {e}\n{}", server.logs()));
    assert!(
        stored.len() == data.len(),
        "{what}: {} stored {} bytes for {url}, the source has {}\n{}",
        server.kind(),
        stored.len(),
        data.len(),
        server.logs()
    );
    if let Some(at) = stored.iter().zip(data).position(|(a, b)| a != b) {
        panic!("{what}: {} stored bytes differ from the source at byte {at} ({url})\n{}", server.kind(), server.logs());
    }
}

/// Uploads the file at `path` to `endpoint` within [`UPLOAD_BOUND`]; panics with the whole error chain
/// and the server's log if it fails.
pub(crate) async fn upload_file(
    server: &RealServer,
    uploader: &Uploader,
    endpoint: &Url,
    path: &Path,
    what: &str,
) -> Url {
    let source = Source::file(path).expect("open the source file");
    let mut metadata = Metadata::new();
    metadata.insert("filename", "source.bin");
    match tokio::time::timeout(UPLOAD_BOUND, uploader.upload(endpoint, source, metadata)).await {
        Err(_) => panic!("{what}: no result within {UPLOAD_BOUND:?}\n{}", server.logs()),
        Ok(Err(e)) => panic!("{what}: the upload failed: {}\n{}", chain(&e), server.logs()),
        Ok(Ok(url)) => url,
    }
}
