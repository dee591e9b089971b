//! The request body: a byte range of a [`Source`], streamed piece by piece.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use tokio::task::JoinHandle;
use tus_proto::ChecksumAlgorithm;
use tus_proto::header::{TusHeader as _, UploadChecksum};

use crate::checksum::Hasher;
use crate::error::BoxError;
use crate::source::{Source, SourceError};

/// A callback told how many body bytes were handed to the connection.
pub type SentCallback = Arc<dyn Fn(u64) + Send + Sync>;

/// When a request last made progress, for the stall watchdog.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    /// Why the body failed to read its source, for an `Error::Source` rather than a connection error.
    source_error: std::sync::Mutex<Option<std::io::Error>>,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { start: Instant::now(), last_ms: AtomicU64::new(0), source_error: Default::default() })
    }

    /// Keeps `e` for [`Activity::take_source_error`] and returns the error to hand to hyper (which
    /// would otherwise report it as a broken connection, or, over HTTP/2, drop it).
    fn source_failed(&self, e: std::io::Error) -> BoxError {
        let copy = std::io::Error::new(e.kind(), e.to_string());
        *self.source_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
        Box::new(copy)
    }

    /// The source error that ended the body, if one did.
    pub(crate) fn take_source_error(&self) -> Option<std::io::Error> {
        self.source_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }

    /// Completes once nothing has happened for `limit`.
    pub(crate) async fn stalled(&self, limit: Duration) {
        loop {
            let idle = self.idle();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// The body of a tus request.
pub(crate) struct UploadBody {
    inner: Inner,
    activity: Arc<Activity>,
    on_sent: Option<SentCallback>,
}

enum Inner {
    Empty,
    Range {
        source: Source,
        pos: u64,
        end: u64,
        next: Option<JoinHandle<std::io::Result<Bytes>>>,
        trailer: Option<Box<(ChecksumAlgorithm, Hasher)>>,
    },
}

impl UploadBody {
    pub(crate) fn empty(activity: Arc<Activity>) -> Self {
        Self { inner: Inner::Empty, activity, on_sent: None }
    }

    pub(crate) fn range(
        source: Source,
        range: std::ops::Range<u64>,
        trailer: Option<(ChecksumAlgorithm, Hasher)>,
        activity: Arc<Activity>,
        on_sent: Option<SentCallback>,
    ) -> Self {
        // The first piece is read now, while a connection is found and the request head is written.
        let next = (range.start < range.end).then(|| spawn_read(&source, range.start, range.end));
        let inner = Inner::Range { source, pos: range.start, end: range.end, next, trailer: trailer.map(Box::new) };
        Self { inner, activity, on_sent }
    }
}

fn spawn_read(source: &Source, pos: u64, end: u64) -> JoinHandle<std::io::Result<Bytes>> {
    let source = source.clone();
    let max = usize::try_from(end - pos).unwrap_or(usize::MAX);
    tokio::spawn(async move { source.read_at(pos, max).await })
}

impl Body for UploadBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Inner::Range { source, pos, end, next, trailer } = &mut this.inner else {
            return Poll::Ready(None);
        };
        if *pos >= *end {
            return Poll::Ready(trailer.take().map(|boxed| {
                let (algorithm, hasher) = *boxed;
                let mut trailers = HeaderMap::new();
                let value: HeaderValue = UploadChecksum { algorithm, digest: hasher.finish() }.encode();
                trailers.insert(UploadChecksum::NAME, value);
                Ok(Frame::trailers(trailers))
            }));
        }
        let handle = next.get_or_insert_with(|| spawn_read(source, *pos, *end));
        let result = ready!(Pin::new(handle).poll(cx));
        *next = None;
        let piece = match result {
            Ok(Ok(piece)) => piece,
            Ok(Err(e)) => return Poll::Ready(Some(Err(this.activity.source_failed(e)))),
            Err(e) => return Poll::Ready(Some(Err(this.activity.source_failed(std::io::Error::other(e.to_string()))))),
        };
        if piece.is_empty() {
            let e = std::io::Error::other(SourceError::TooShort { ended: *pos, needed: *end });
            return Poll::Ready(Some(Err(this.activity.source_failed(e))));
        }
        let piece = piece.slice(..piece.len().min(usize::try_from(*end - *pos).unwrap_or(usize::MAX)));
        *pos += piece.len() as u64;
        if *pos < *end {
            // Read ahead while the connection writes this piece.
            *next = Some(spawn_read(source, *pos, *end));
        }
        if let Some(boxed) = trailer {
            boxed.1.update(&piece);
        }
        this.activity.touch();
        if let Some(cb) = &this.on_sent {
            cb(piece.len() as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Empty => true,
            Inner::Range { pos, end, trailer, .. } => pos >= end && trailer.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Empty => SizeHint::with_exact(0),
            Inner::Range { trailer: Some(_), .. } => SizeHint::default(),
            Inner::Range { pos, end, .. } => SizeHint::with_exact(end.saturating_sub(*pos)),
        }
    }
}

impl Drop for UploadBody {
    fn drop(&mut self) {
        if let Inner::Range { next: Some(handle), .. } = &self.inner {
            handle.abort();
        }
    }
}

use std::future::Future as _;
