//! The seeded fault proxy between the client and a real server: several cuts, stalls and resets per
//! upload, and the file the server stored is byte-identical to the source.
//!
//! Each test is one seed against one server. The proxy draws, per connection, a cut point between
//! 16 KiB and 1 MiB of client bytes (so, until the fault budget is spent, every 1 MiB PATCH is broken
//! off somewhere in its body and the upload only advances by what the server kept of cut-off bodies)
//! and a fault kind: a plain cut (FIN both ways), a stall (nothing forwarded for a while, then a cut)
//! or a reset (RST both ways). After [`MAX_FAULTS`] faults it forwards cleanly, so every upload can end.
//!
//! The servers build absolute `Location`s from the request's `Host`, which names the proxy, so every
//! request after the creation goes through the proxy too; the tests check that (the upload URL's port
//! is the proxy's, and the proxy forwarded more client bytes than the file holds).
//!
//! # rustus needs a moment
//!
//! rustus 0.5.10 (actix-web) treats a FIN in the middle of a PATCH body as the end of the body: it
//! stores the bytes it got and answers 204 to nobody. It has no per-upload lock, appends every PATCH
//! at the end of the file whatever the offset, and rewrites its `.info` record in place (truncate,
//! then write). So a HEAD or PATCH that arrives while it is still storing such a cut-off body races
//! with it: the HEAD reads a half-written record (500 "Unable to serialize object"), two writers
//! leave the record broken for good (500 on every later HEAD), or two PATCHes at the same offset are
//! both appended (the stored file is longer than the upload, with the upload reported complete).
//! A client retrying with no delay at all hits this within a few runs, so against rustus the
//! client waits 100 to 400 ms before each retry (tus-rs's default waits at least 0.5 s), and proxy
//! stalls last longer than the rest of the upload (a stalled PATCH released while the next one is
//! stored would race the same way; released later, rustus answers it 409). @tus/server locks each
//! upload, so it gets the harshest client: no delay at all, and short stalls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tus_retry::{Client, RetryConfiguration, Uploader};
use tus_tests::proxy::{FaultPlan, FaultProxy};
use tus_tests::real::{NodeOptions, RealServer, ServerKind};
use url::Url;

use super::{
    TestSleeper, assert_stored, brief_retry, client, fast_retry, node, payload, rustus, source_file, upload_file,
};

/// The file: a few MiB, not a multiple of the chunk size.
const FILE_LEN: usize = (5 << 20) + 4321;
pub(super) const CHUNK: u64 = 1 << 20;
/// Faults per upload, at most (then the proxy forwards cleanly).
const MAX_FAULTS: usize = 12;
/// Faults per upload, at least, for a test to count.
const MIN_FAULTS: usize = 3;
/// Attempts per retry budget (the budget starts again whenever the server's offset advances).
const ATTEMPTS: u32 = 25;

/// How hard each server is pushed; see the module docs.
#[derive(Debug, Clone, Copy)]
pub(super) struct Profile {
    /// The client gives up on a request that makes no progress for this long; shorter than the
    /// proxy's stalls, so stalls are detected by the client, not ended by the proxy.
    pub(super) client_stall: Duration,
    /// How long a stalled connection forwards nothing before the proxy cuts it.
    proxy_stall: Duration,
    /// Whether the client sleeps between retries (100 to 400 ms) or retries at once.
    sleeps: bool,
}

impl Profile {
    pub(super) fn of(kind: ServerKind) -> Self {
        match kind {
            ServerKind::Rustus => {
                Self { client_stall: Duration::from_secs(1), proxy_stall: Duration::from_secs(8), sleeps: true }
            }
            ServerKind::Node => Self {
                client_stall: Duration::from_millis(750),
                proxy_stall: Duration::from_millis(1500),
                sleeps: false,
            },
        }
    }

    fn retry(&self) -> (RetryConfiguration, Arc<TestSleeper>) {
        if self.sleeps {
            let sleeper = TestSleeper::real();
            (brief_retry(ATTEMPTS, Arc::clone(&sleeper)), sleeper)
        } else {
            let sleeper = TestSleeper::none();
            (fast_retry(ATTEMPTS, Arc::clone(&sleeper)), sleeper)
        }
    }

    /// The fault plan: cuts between 16 KiB and 1 MiB of client bytes per connection; 20 % stalls,
    /// 25 % resets, the rest plain cuts; at most [`MAX_FAULTS`].
    pub(super) fn plan(&self, seed: u64) -> FaultPlan {
        FaultPlan::seeded(seed)
            .cut_every((16 << 10)..(1 << 20))
            .stall_probability(0.2)
            .stall_for(self.proxy_stall)
            .reset_probability(0.25)
            .max_faults(MAX_FAULTS)
    }
}

/// Uploads a fresh file through `proxy` (whose upstream leads to `server`) at `endpoint`, then checks
/// the stored bytes, the fault count, and that the traffic really went through the proxy.
pub(super) async fn survive(
    server: &RealServer,
    proxy: &FaultProxy,
    client: Client,
    endpoint: &Url,
    seed: u64,
    what: &str,
) {
    let data = payload(FILE_LEN, seed);
    let (_dir, path) = source_file(&data);
    let (retry, sleeper) = Profile::of(server.kind()).retry();
    let uploader = Uploader::new(client).chunk_size(CHUNK).retry(retry);

    let started = Instant::now();
    let url = upload_file(server, &uploader, endpoint, &path, what).await;
    eprintln!(
        "{what}: {} faults ({} cuts, {} stalls, {} resets) over {} connections, {} client bytes \
         for a {} byte file, {} retries, {:.2?}",
        proxy.faults_injected(),
        proxy.cuts(),
        proxy.stalls(),
        proxy.resets(),
        proxy.connections(),
        proxy.client_bytes(),
        data.len(),
        sleeper.calls(),
        started.elapsed(),
    );
    assert_eq!(url.port(), Some(proxy.addr().port()), "{what}: the upload URL {url} bypasses the proxy");
    assert_eq!(url.scheme(), endpoint.scheme(), "{what}: the upload URL {url} changed the scheme");
    assert!(
        proxy.faults_injected() >= MIN_FAULTS,
        "{what}: only {} faults were injected; the test proves nothing",
        proxy.faults_injected()
    );
    assert!(
        proxy.client_bytes() >= data.len() as u64,
        "{what}: the proxy forwarded only {} client bytes: the PATCHes went around it",
        proxy.client_bytes()
    );
    assert!(sleeper.calls() >= 1, "{what}: faults were injected but the client never retried");
    assert_stored(server, &url, &data, what);
}

async fn plain(server: RealServer, seed: u64) {
    let profile = Profile::of(server.kind());
    let proxy = FaultProxy::start(server.addr(), profile.plan(seed)).await;
    let what = format!("{} behind the fault proxy, seed {seed}", server.kind());
    survive(&server, &proxy, client(profile.client_stall), &proxy.url("/files/"), seed, &what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_seed_1() {
    plain(rustus().await, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_seed_2() {
    plain(rustus().await, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_seed_3() {
    plain(rustus().await, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_seed_4() {
    plain(rustus().await, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_seed_11() {
    plain(node(NodeOptions::default()).await, 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_seed_12() {
    plain(node(NodeOptions::default()).await, 12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_seed_13() {
    plain(node(NodeOptions::default()).await, 13).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_seed_14() {
    plain(node(NodeOptions::default()).await, 14).await;
}
