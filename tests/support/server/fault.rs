//! Fault injection for [`TusServer`](super::TusServer): a queue of [`Fault`]s, each a matcher plus a
//! [`FaultAction`].

use std::time::Duration;

use http::Method;

/// What an injected fault does to the request it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer at once with `code`, `Tus-Resumable: 1.0.0` and `headers`, without reading the body or
    /// touching any state. With `with_offset`, the upload's true `Upload-Offset` is added (if the path
    /// names an existing upload), as a helpful 409 would.
    Status { code: u16, headers: Vec<(String, String)>, with_offset: bool },
    /// Read and store the first `after` bytes of the upload body (PATCH, or a creation-with-upload POST),
    /// then close the connection without a response. If the body is shorter, close after all of it.
    /// With an `Upload-Checksum` header the bytes can't be verified and are discarded instead. On other
    /// requests: read up to `after` body bytes, then close without processing the request.
    DropMidBody { after: u64 },
    /// Process the request completely (store the whole body, create the upload, ...), then close the
    /// connection without sending the response.
    ///
    /// (Closing the connection here and in `DropMidBody` drops the whole connection: over HTTP/2 that
    /// ends every stream on it, not just this request.)
    LoseResponse,
    /// Read the whole PATCH (or creation-with-upload POST) body but store only its first `keep` bytes;
    /// answer normally with the smaller `Upload-Offset`.
    AcceptPartial { keep: u64 },
    /// Never answer and never read the body; the connection stays open until the client closes it or
    /// the server is dropped.
    Stall,
    /// Read and store the first `after` body bytes (as `DropMidBody`), then stop reading and never
    /// answer (until the client gives up or the server is dropped).
    StallMidBody { after: u64 },
    /// Sleep this long, then handle the request normally.
    Delay(Duration),
    /// Read (and discard) the whole body and answer `460 Checksum Mismatch`, whatever the digest.
    ChecksumMismatch,
}

impl FaultAction {
    /// `Status` with no extra headers.
    pub fn status(code: u16) -> Self {
        Self::status_with(code, &[])
    }

    /// `Status` with extra headers, e.g. `status_with(503, &[("Retry-After", "1")])`.
    pub fn status_with(code: u16, headers: &[(&str, &str)]) -> Self {
        Self::Status {
            code,
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            with_offset: false,
        }
    }

    /// `409 Conflict` carrying the true `Upload-Offset`.
    pub fn conflict() -> Self {
        Self::status(409).with_offset()
    }

    /// For `Status`: also send the upload's true `Upload-Offset`. No-op for other actions.
    pub fn with_offset(mut self) -> Self {
        if let Self::Status { with_offset, .. } = &mut self {
            *with_offset = true;
        }
        self
    }
}

/// A queued fault: which requests it applies to, how often, and what it does.
///
/// Each request takes the first queued fault that matches it and is due (see [`Fault::nth`]); a fault is
/// removed once it has been used [`Fault::times`] times (default once; [`Fault::always`] never).
#[derive(Debug, Clone)]
pub struct Fault {
    pub(crate) method: Option<Method>,
    pub(crate) path_contains: Option<String>,
    pub(crate) nth: u64,
    pub(crate) times: Option<u64>,
    pub(crate) action: FaultAction,
}

impl Fault {
    /// A fault for the next request of any method.
    pub fn any(action: FaultAction) -> Self {
        Self { method: None, path_contains: None, nth: 1, times: Some(1), action }
    }

    /// A fault for the next request with this method (after `X-HTTP-Method-Override`).
    pub fn on(method: Method, action: FaultAction) -> Self {
        Self { method: Some(method), ..Self::any(action) }
    }

    pub fn patch(action: FaultAction) -> Self {
        Self::on(Method::PATCH, action)
    }

    pub fn head(action: FaultAction) -> Self {
        Self::on(Method::HEAD, action)
    }

    pub fn post(action: FaultAction) -> Self {
        Self::on(Method::POST, action)
    }

    pub fn delete(action: FaultAction) -> Self {
        Self::on(Method::DELETE, action)
    }

    pub fn options(action: FaultAction) -> Self {
        Self::on(Method::OPTIONS, action)
    }

    /// Only requests whose path contains `s` match (e.g. an upload id).
    pub fn path_contains(mut self, s: &str) -> Self {
        self.path_contains = Some(s.to_owned());
        self
    }

    /// Fire from the `n`-th matching request on (1-based; counted from when the fault was injected,
    /// including requests taken by other faults). Default 1.
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = n.max(1);
        self
    }

    /// Fire for `n` requests, then disappear. Default 1.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire for every matching request from the `nth` on, forever (until `clear_faults`).
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && self.path_contains.as_deref().is_none_or(|s| path.contains(s))
    }
}

/// The fault queue.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    queue: Vec<(Fault, u64)>, // (fault, matching requests seen)
    pub(crate) fired: usize,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.times != Some(0) {
            self.queue.push((fault, 0));
        }
    }

    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Counts the request against every matching fault and takes the first one that is due.
    pub(crate) fn take(&mut self, method: &Method, path: &str) -> Option<FaultAction> {
        let mut chosen = None;
        for (i, (fault, seen)) in self.queue.iter_mut().enumerate() {
            if fault.matches(method, path) {
                *seen += 1;
                if chosen.is_none() && *seen >= fault.nth {
                    chosen = Some(i);
                }
            }
        }
        let i = chosen?;
        self.fired += 1;
        let action = self.queue[i].0.action.clone();
        if let Some(times) = &mut self.queue[i].0.times {
            *times -= 1;
            if *times == 0 {
                self.queue.remove(i);
            }
        }
        Some(action)
    }
}
