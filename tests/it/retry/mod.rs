//! tus-retry against the in-process [`TusServer`], deterministic: an injected [`Sleeper`] records the
//! delays asked for and returns at once, jitter is off or seeded, and every test compares the stored
//! bytes with the source byte for byte.
//!
//! Most tests assert the exact request sequence the server saw (see [`trace`]): which request came
//! after a failure, at which offset, with how many bytes.

mod budget;
mod cancel;
mod checksum;
mod classify;
mod concat;
mod deferred;
mod recreate;
mod resync;
mod shrink;
mod store;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use tus_retry::{Client, Progress, RetryConfiguration, Sleeper, Uploader};
use tus_tests::server::{RecordedRequest, TusServer};
use tus_tests::util::data;

/// Runs a test body with a hard deadline, so a hang is a failure.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), f).await.expect("test timed out")
}

const SEC: Duration = Duration::from_secs(1);

/// Whole seconds, for comparing recorded delays.
fn secs(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|s| Duration::from_secs(*s)).collect()
}

/// A [`Sleeper`] that records each delay and returns at once.
#[derive(Debug, Default)]
struct RecordingSleeper {
    delays: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn delays(&self) -> Vec<Duration> {
        self.delays.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.delays.lock().unwrap().push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// A client whose stall timeout is short enough for the tests that stall on purpose.
fn client() -> Client {
    Client::builder().stall_timeout(Some(Duration::from_secs(10))).build().expect("client")
}

/// Jitter off, the recording sleeper, `attempts` attempts.
fn retry(sleeper: &Arc<RecordingSleeper>, attempts: u32) -> RetryConfiguration {
    RetryConfiguration::default()
        .jitter(false)
        .retry_attempts(attempts)
        .sleeper(Arc::clone(sleeper) as Arc<dyn Sleeper>)
}

/// An uploader with `chunk` byte chunks, jitter off, 5 attempts, the recording sleeper.
fn uploader(sleeper: &Arc<RecordingSleeper>, chunk: u64) -> Uploader {
    Uploader::new(client()).chunk_size(chunk).min_chunk_size(1).retry(retry(sleeper, 5))
}

/// Every progress event, in order.
#[derive(Debug, Default, Clone)]
struct ProgressLog(Arc<Mutex<Vec<Progress>>>);

impl ProgressLog {
    fn callback(&self) -> impl Fn(Progress) + Send + Sync + 'static {
        let log = Arc::clone(&self.0);
        move |p| log.lock().unwrap().push(p)
    }

    fn events(&self) -> Vec<Progress> {
        self.0.lock().unwrap().clone()
    }

    /// `sent >= confirmed` in every event, and the last one confirms `total`.
    fn assert_sane(&self, total: u64) {
        let events = self.events();
        assert!(!events.is_empty(), "no progress events");
        for p in &events {
            assert!(p.sent >= p.confirmed, "sent < confirmed in {p:?}");
            assert!(p.total.is_none_or(|t| p.confirmed <= t), "confirmed past the total in {p:?}");
        }
        let last = events.last().unwrap();
        assert_eq!((last.confirmed, last.total), (total, Some(total)), "{last:?}");
    }
}

/// A short description of a request: `OPTIONS`, `POST`, `POST defer`, `POST partial`, `POST final`,
/// `POST+<n>` (creation-with-upload), `HEAD`, `DELETE`, `PATCH <offset>+<content-length>`, with
/// ` len=<n>` when a PATCH declares the length.
fn describe(r: &RecordedRequest) -> String {
    let len = |name: &str| r.header(name).map(str::to_owned);
    match r.method.as_str() {
        "POST" => {
            let mut s = "POST".to_owned();
            if r.header("content-type") == Some("application/offset+octet-stream") {
                s.push_str(&format!("+{}", len("content-length").unwrap_or_default()));
            }
            if r.header("upload-defer-length").is_some() {
                s.push_str(" defer");
            }
            match r.header("upload-concat") {
                Some("partial") => s.push_str(" partial"),
                Some(v) if v.starts_with("final;") => s.push_str(" final"),
                _ => {}
            }
            s
        }
        "PATCH" => {
            let mut s = format!(
                "PATCH {}+{}",
                len("upload-offset").unwrap_or_default(),
                len("content-length").unwrap_or_default()
            );
            if let Some(l) = len("upload-length") {
                s.push_str(&format!(" len={l}"));
            }
            s
        }
        m => m.to_owned(),
    }
}

/// What the server saw, as [`describe`] lines.
fn trace(server: &TusServer) -> Vec<String> {
    server.requests().iter().map(describe).collect()
}

/// The PATCHes the server saw, as `(offset, content-length)`.
fn patches(server: &TusServer) -> Vec<(u64, u64)> {
    server
        .requests_with(Method::PATCH)
        .iter()
        .map(|r| {
            let n = |h| r.header(h).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX);
            (n("upload-offset"), n("content-length"))
        })
        .collect()
}

/// `PATCH <offset>+<len>` lines for a run of full chunks and a short last one, from `from` to `to`.
fn patch_run(from: u64, to: u64, chunk: u64) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let n = chunk.min(to - at);
        out.push(format!("PATCH {at}+{n}"));
        at += n;
    }
    out
}

/// Concatenates trace pieces.
fn lines(parts: &[&[&str]]) -> Vec<String> {
    parts.iter().flat_map(|p| p.iter().map(|s| (*s).to_owned())).collect()
}

/// The only upload on the server, asserting there is exactly one.
fn only_upload(server: &TusServer) -> String {
    let ids = server.upload_ids();
    assert_eq!(ids.len(), 1, "expected one upload, found {ids:?}");
    ids[0].clone()
}

/// The HTTP status of the client error behind a tus-retry error.
fn status_of(e: &tus_retry::Error) -> Option<u16> {
    e.client_error().and_then(|c| c.status()).map(|s| s.as_u16())
}
