use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Progress of an upload, aggregated over the parts of a parallel upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Progress {
    /// Body bytes handed to the connection (may exceed `confirmed`; may count resent bytes twice). Never
    /// less than `confirmed`: bytes the server already held when an upload was resumed count as sent.
    pub sent: u64,
    /// Bytes the server has confirmed holding.
    pub confirmed: u64,
    /// The total, when known.
    pub total: Option<u64>,
}

/// A progress callback. It is called often (each piece sent, each answer); keep it cheap.
pub type ProgressCallback = Arc<dyn Fn(Progress) + Send + Sync>;

/// Sums the progress of every part of one logical upload.
#[derive(Clone)]
pub(crate) struct Tracker {
    inner: Arc<TrackerInner>,
}

struct TrackerInner {
    sent: AtomicU64,
    confirmed: AtomicU64,
    total: AtomicU64, // u64::MAX = unknown
    callback: Option<ProgressCallback>,
}

impl Tracker {
    pub(crate) fn new(total: Option<u64>, callback: Option<ProgressCallback>) -> Self {
        Self {
            inner: Arc::new(TrackerInner {
                sent: AtomicU64::new(0),
                confirmed: AtomicU64::new(0),
                total: AtomicU64::new(total.unwrap_or(u64::MAX)),
                callback,
            }),
        }
    }

    pub(crate) fn add_sent(&self, n: u64) {
        self.inner.sent.fetch_add(n, Ordering::Relaxed);
        self.emit();
    }

    /// Moves one part's confirmed offset from `from` to `to` (which may be lower after a resync).
    pub(crate) fn confirm(&self, from: u64, to: u64) {
        if to >= from {
            let confirmed = self.inner.confirmed.fetch_add(to - from, Ordering::Relaxed) + (to - from);
            // Bytes confirmed by a resume's HEAD were sent by an earlier run: keep `sent >= confirmed`.
            self.inner.sent.fetch_max(confirmed, Ordering::Relaxed);
        } else {
            self.inner.confirmed.fetch_sub(from - to, Ordering::Relaxed);
        }
        self.emit();
    }

    pub(crate) fn set_total(&self, total: u64) {
        self.inner.total.store(total, Ordering::Relaxed);
        self.emit();
    }

    pub(crate) fn snapshot(&self) -> Progress {
        let total = self.inner.total.load(Ordering::Relaxed);
        let confirmed = self.inner.confirmed.load(Ordering::Relaxed);
        Progress {
            // `max`: parallel parts update the two counters one after the other.
            sent: self.inner.sent.load(Ordering::Relaxed).max(confirmed),
            confirmed,
            total: (total != u64::MAX).then_some(total),
        }
    }

    fn emit(&self) {
        if let Some(cb) = &self.inner.callback {
            cb(self.snapshot());
        }
    }

    pub(crate) fn sent_callback(&self) -> Option<tus_client::SentCallback> {
        self.inner.callback.as_ref()?;
        let me = self.clone();
        Some(Arc::new(move |n| me.add_sent(n)))
    }
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.snapshot(), f)
    }
}
