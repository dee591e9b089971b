//! [`TusServer`]: an in-process, strict tus 1.0.0 server on 127.0.0.1 with fault injection.
//!
//! It is the test oracle for the client crates, so it implements tus on its own (hyper 1 server +
//! hyper-util, no workspace crates). The creation URL is `/files/`, uploads live at `/files/<id>`, and
//! `GET /files/<id>` returns the stored bytes. Every request is recorded ([`TusServer::requests`]).
//!
//! ```text
//! let server = TusServer::builder().max_size(1 << 20).start().await;
//! server.inject(Fault::patch(FaultAction::status(423)));
//! // ... run the client against server.endpoint() ...
//! assert_eq!(server.stored_bytes(&upload_url).unwrap(), data);
//! ```
//!
//! Everything spawned by the server (accept loop, connections, HTTP/2 streams) is aborted when the
//! [`TusServer`] is dropped, which closes the listener and every connection.

mod fault;
mod handler;
pub(crate) mod tasks;
mod util;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode, Version};
use tokio::net::TcpListener;

pub use fault::{Fault, FaultAction};
pub use util::http_date;

use fault::FaultQueue;
use tasks::Tasks;

/// The only protocol version the server speaks.
pub const TUS_VERSION: &str = "1.0.0";

/// Extensions advertised by default.
pub const DEFAULT_EXTENSIONS: &[&str] = &[
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "concatenation",
    "checksum",
    "expiration",
];

/// Checksum algorithms enabled by default (all the server implements).
pub const DEFAULT_CHECKSUM_ALGORITHMS: &[&str] = &["sha1", "sha256", "sha512", "md5"];

/// How the `Location` of a created upload is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RelativeMode {
    /// `http://<host>/files/<id>` where `<host>` is the request's `Host` (or `:authority`), so a client
    /// going through a proxy gets the proxy's address back, as with tusd.
    #[default]
    Absolute,
    /// `/files/<id>`.
    AbsolutePath,
    /// `<id>` (relative to the creation URL `/files/`).
    Relative,
    /// `//<host>/files/<id>`.
    SchemeRelative,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Arrival number (starts at 0, not reset by `clear_requests`).
    pub seq: u64,
    /// The method on the wire (not `X-HTTP-Method-Override`).
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub version: Version,
    /// Headers exactly as received (names lower-cased by hyper).
    pub headers: HeaderMap,
    /// Body bytes the server has read so far (the whole body once the request is done, fewer if the
    /// server answered without reading it or the connection was cut).
    pub body_len: u64,
    /// Trailers, if the body carried any and the server read to the end.
    pub trailers: Option<HeaderMap>,
}

impl RecordedRequest {
    /// The value of a header as a string, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A snapshot of one upload's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    pub id: String,
    pub offset: u64,
    /// `None` while the length is deferred.
    pub length: Option<u64>,
    /// The raw `Upload-Metadata` value given at creation.
    pub metadata: Option<String>,
    /// The raw `Upload-Concat` value given at creation (`partial` or `final;...`).
    pub concat: Option<String>,
    pub expires_at: Option<SystemTime>,
    /// Expired or made to expire with [`TusServer::expire`]: requests get 410.
    pub expired: bool,
}

/// Builder for [`TusServer`]; see the setters for defaults.
#[derive(Debug, Clone)]
pub struct TusServerBuilder {
    config: Config,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) extensions: Vec<String>,
    pub(crate) checksum_algorithms: Vec<String>,
    pub(crate) max_size: Option<u64>,
    pub(crate) body_limit: Option<u64>,
    pub(crate) relative: RelativeMode,
    pub(crate) ok_status: Option<StatusCode>,
    pub(crate) expires_in: Option<Duration>,
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    pub(crate) read_timeout: Duration,
}

impl Config {
    pub(crate) fn has(&self, extension: &str) -> bool {
        self.extensions.iter().any(|e| e == extension)
    }
}

impl Default for TusServerBuilder {
    fn default() -> Self {
        Self {
            config: Config {
                extensions: DEFAULT_EXTENSIONS.iter().map(|s| (*s).to_owned()).collect(),
                checksum_algorithms: DEFAULT_CHECKSUM_ALGORITHMS.iter().map(|s| (*s).to_owned()).collect(),
                max_size: None,
                body_limit: None,
                relative: RelativeMode::Absolute,
                ok_status: None,
                expires_in: None,
                tls: None,
                read_timeout: Duration::from_secs(30),
            },
        }
    }
}

impl TusServerBuilder {
    /// Extensions to advertise and honour (default [`DEFAULT_EXTENSIONS`]). Without `creation`, POST
    /// gets 405; without `creation-with-upload` a POST body is ignored; without `creation-defer-length`,
    /// `Upload-Defer-Length` gets 400; without `termination`, DELETE gets 405; without `concatenation`,
    /// `Upload-Concat` gets 501; without `checksum`, `Upload-Checksum` is ignored; `checksum-trailer`
    /// (off by default) enables `Upload-Checksum` as a trailer.
    pub fn extensions(mut self, extensions: &[&str]) -> Self {
        self.config.extensions = extensions.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Checksum algorithms (default `sha1,sha256,sha512,md5`); others get 400.
    pub fn checksum_algorithms(mut self, algorithms: &[&str]) -> Self {
        self.config.checksum_algorithms = algorithms.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// `Tus-Max-Size`; a POST above it gets 413 (none by default).
    pub fn max_size(mut self, max: u64) -> Self {
        self.config.max_size = Some(max);
        self
    }

    /// Maximum request body (PATCH or creation-with-upload POST); above it: 413, nothing stored.
    pub fn body_limit(mut self, limit: usize) -> Self {
        self.config.body_limit = Some(limit as u64);
        self
    }

    /// How `Location` is written (default [`RelativeMode::Absolute`]).
    pub fn relative_location(mut self, mode: RelativeMode) -> Self {
        self.config.relative = mode;
        self
    }

    /// Status for every successful HEAD/PATCH/OPTIONS/DELETE (default: 200 for HEAD, 204 otherwise).
    pub fn ok_status(mut self, status: u16) -> Self {
        self.config.ok_status = Some(StatusCode::from_u16(status).expect("valid status code"));
        self
    }

    /// Uploads expire this long after creation / their last PATCH: `Upload-Expires` is sent on POST and
    /// PATCH responses, and an expired upload answers 410. Off by default.
    pub fn expires_in(mut self, d: Duration) -> Self {
        self.config.expires_in = Some(d);
        self
    }

    /// Serve HTTPS with this config (HTTP/1.1 and HTTP/2 both work, chosen by ALPN).
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.config.tls = Some(config);
        self
    }

    /// How long the server waits for the next piece of a request body before giving up with 500 (like
    /// tusd's read timeout), keeping what it received. Default 30 s.
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.config.read_timeout = d;
        self
    }

    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(self) -> TusServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let tls = self.config.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let shared = Arc::new(Shared { config: self.config, addr, state: Mutex::new(State::default()) });
        let tasks = Tasks::new();
        tasks.spawn(handler::accept_loop(listener, shared.clone(), tasks.clone(), tls));
        TusServer { addr, shared, tasks }
    }
}

/// A running tus server; dropping it stops it (listener and all connections closed).
pub struct TusServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Tasks,
}

impl std::fmt::Debug for TusServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusServer").field("endpoint", &self.endpoint().as_str()).finish_non_exhaustive()
    }
}

impl Drop for TusServer {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl TusServer {
    pub fn builder() -> TusServerBuilder {
        TusServerBuilder::default()
    }

    /// A server with the default configuration.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The creation URL, `http(s)://127.0.0.1:PORT/files/`.
    pub fn endpoint(&self) -> url::Url {
        let scheme = if self.shared.config.tls.is_some() { "https" } else { "http" };
        url::Url::parse(&format!("{scheme}://{}/files/", self.addr)).expect("valid url")
    }

    /// The URL of upload `id` on this server.
    pub fn upload_url(&self, id: &str) -> url::Url {
        self.endpoint().join(id).expect("valid url")
    }

    /// Queues a fault; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Removes all queued faults.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Faults still queued.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// How many times a fault was applied to a request.
    pub fn faults_fired(&self) -> usize {
        self.shared.lock().faults.fired
    }

    /// Ids of all live uploads, oldest first (deleted ones are gone, expired ones are listed).
    pub fn upload_ids(&self) -> Vec<String> {
        let st = self.shared.lock();
        st.order.iter().filter(|id| st.uploads.contains_key(*id)).cloned().collect()
    }

    /// The bytes stored for an upload, by URL (absolute or not) or id.
    pub fn stored_bytes(&self, url_or_id: impl AsRef<str>) -> Option<Vec<u8>> {
        let st = self.shared.lock();
        st.uploads.get(util::id_of(url_or_id.as_ref())).map(|u| u.data.clone())
    }

    /// The state of an upload, by URL or id.
    pub fn upload_state(&self, url_or_id: impl AsRef<str>) -> Option<UploadState> {
        let id = util::id_of(url_or_id.as_ref());
        let st = self.shared.lock();
        st.uploads.get(id).map(|u| u.snapshot(id))
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests with this method (on the wire).
    pub fn requests_with(&self, method: Method) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.method == method).collect()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Makes the upload expire now: later requests get 410 Gone. Returns false if unknown.
    pub fn expire(&self, url_or_id: impl AsRef<str>) -> bool {
        let mut st = self.shared.lock();
        st.uploads.get_mut(util::id_of(url_or_id.as_ref())).map(|u| u.expired = true).is_some()
    }

    /// Forgets the upload as if it never existed (later requests get 404). Returns false if unknown.
    pub fn forget(&self, url_or_id: impl AsRef<str>) -> bool {
        self.shared.lock().uploads.remove(util::id_of(url_or_id.as_ref())).is_some()
    }

    /// Drops stored bytes past `offset` (models a store/proxy that lost acknowledged data, so the next
    /// HEAD reports a smaller offset). Returns false if unknown.
    pub fn truncate(&self, url_or_id: impl AsRef<str>, offset: u64) -> bool {
        let mut st = self.shared.lock();
        st.uploads.get_mut(util::id_of(url_or_id.as_ref())).map(|u| u.data.truncate(offset as usize)).is_some()
    }
}

// ---- internal state ----------------------------------------------------------------------------

pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) addr: SocketAddr,
    pub(crate) state: Mutex<State>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) uploads: HashMap<String, Upload>,
    pub(crate) order: Vec<String>,
    pub(crate) next_id: u64,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) next_seq: u64,
    pub(crate) faults: FaultQueue,
}

impl State {
    pub(crate) fn request_mut(&mut self, seq: u64) -> Option<&mut RecordedRequest> {
        self.requests.iter_mut().rev().find(|r| r.seq == seq)
    }

    /// Inserts a new upload and returns its id.
    pub(crate) fn create(&mut self, upload: Upload) -> String {
        self.next_id += 1;
        // Unique per server and hard to guess, but in creation order when sorted.
        let nonce = (self.next_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
        let id = format!("{:06}{nonce:08x}", self.next_id);
        self.order.push(id.clone());
        self.uploads.insert(id.clone(), upload);
        id
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Upload {
    pub(crate) data: Vec<u8>,
    pub(crate) length: Option<u64>,
    pub(crate) metadata: Option<String>,
    pub(crate) concat: Option<String>,
    pub(crate) is_partial: bool,
    pub(crate) is_final: bool,
    pub(crate) expires_at: Option<SystemTime>,
    pub(crate) expired: bool,
}

impl Upload {
    pub(crate) fn offset(&self) -> u64 {
        self.data.len() as u64
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.length == Some(self.offset())
    }

    /// Expired by time or by [`TusServer::expire`]; marks it so.
    pub(crate) fn check_expired(&mut self) -> bool {
        if self.expires_at.is_some_and(|t| SystemTime::now() > t) {
            self.expired = true;
        }
        self.expired
    }

    fn snapshot(&self, id: &str) -> UploadState {
        UploadState {
            id: id.to_owned(),
            offset: self.offset(),
            length: self.length,
            metadata: self.metadata.clone(),
            concat: self.concat.clone(),
            expires_at: self.expires_at,
            expired: self.expired,
        }
    }
}
