use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::capture_connection;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tus_proto::{Body, ChecksumPlacement, RequestKind, RequestPlan, ResponseHead};
use url::Url;

use crate::body::{Activity, SentCallback, UploadBody};
use crate::checksum::{self, Hasher};
use crate::connect::{ConnectTimeout, Connector};
use crate::error::{Error, Redacted};
use crate::source::Source;
use crate::tls::{self, Fingerprint, TlsSettings};

/// How many bytes of a response body are kept, for error messages. The rest is discarded.
const BODY_LIMIT: usize = 64 * 1024;

/// A hook that sees each request before it is sent, to sign or tag it.
pub type RequestHook = Arc<dyn Fn(&mut http::Request<()>) + Send + Sync>;

/// A tus client: one connection pool, default headers, timeouts and TLS settings. Cheap to clone;
/// clones share the pool. It plays the part of aiotus's `client_session`.
///
/// It holds no protocol state: every operation is a [`tus_proto`] plan sent and its answer interpreted.
///
/// ```no_run
/// # async fn demo() -> Result<(), tus_client::Error> {
/// use tus_client::{Client, Source};
/// use tus_proto::{Create, Length, Metadata};
///
/// let client = Client::builder().default_header("authorization", "Bearer token").build()?;
/// let endpoint = url::Url::parse("https://tus.example/files/").unwrap();
/// let source = Source::bytes(&b"hello"[..]);
/// let created = client.create(&endpoint, &Create::new(Length::Known(5))).await?;
/// client.upload_buffer(&created.url, &source, &Default::default()).await?;
/// assert_eq!(client.offset(&created.url).await?, 5);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: HyperClient<Connector, UploadBody>,
    default_headers: HeaderMap,
    stall_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    method_override: bool,
    hook: Option<RequestHook>,
}

/// An answer from the server: the head, and the start of the body (for error messages).
#[derive(Debug, Clone)]
pub struct Response {
    /// Status and headers.
    pub head: ResponseHead,
    /// At most the first 64 KiB of the body.
    pub body: Bytes,
}

impl Response {
    /// The body as text, shortened, for messages.
    pub fn body_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_owned(),
        }
    }

    /// `Retry-After`, as a delay: seconds, or an HTTP date from now.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.head.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
        if let Ok(secs) = value.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate_parse(value)?;
        Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
    }
}

fn httpdate_parse(value: &str) -> Option<SystemTime> {
    use tus_proto::header::{TusHeader as _, UploadExpires};
    UploadExpires::parse(value.as_bytes()).ok()?.0
}

impl Client {
    /// A client with the default settings.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when no TLS trust anchors are available.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder, to set headers, timeouts and TLS.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The stall timeout: a request that makes no progress for this long fails.
    pub fn stall_timeout(&self) -> Option<Duration> {
        self.inner.stall_timeout
    }

    /// Sends one planned request and returns the server's answer, whatever its status.
    ///
    /// `source` supplies the bytes a plan's body names. A checksum the plan asks for is computed here:
    /// before sending for header placement (the range is read twice, never held whole), while streaming
    /// for trailer placement.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`], [`Error::Tls`], [`Error::Timeout`], [`Error::Http`] when no answer came;
    /// [`Error::Usage`] for a plan with a body but no source, or an unsupported checksum algorithm;
    /// [`Error::Source`] when reading the source failed.
    pub async fn send(&self, plan: &RequestPlan, source: Option<&Source>) -> Result<Response, Error> {
        self.send_with_progress(plan, source, None).await
    }

    /// [`Client::send`], calling `on_sent` with the size of each piece of body handed to the connection.
    ///
    /// # Errors
    ///
    /// As [`Client::send`].
    pub async fn send_with_progress(
        &self,
        plan: &RequestPlan,
        source: Option<&Source>,
        on_sent: Option<SentCallback>,
    ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let mut plan = plan.clone();
        if inner.method_override {
            plan = plan.with_method_override();
        }
        let kind = plan.kind;
        let activity = Activity::new();
        let body = match plan.body.clone() {
            Body::Empty => UploadBody::empty(Arc::clone(&activity)),
            Body::Source(range) => {
                let Some(source) = source else {
                    return Err(Error::Usage(format!("the {kind} plan has a body, but no source was given")));
                };
                let mut trailer = None;
                if let Some(request) = plan.checksum.clone() {
                    let Some(hasher) = Hasher::new(&request.algorithm) else {
                        return Err(Error::Usage(format!("unsupported checksum algorithm {}", request.algorithm)));
                    };
                    match request.placement {
                        ChecksumPlacement::Header => {
                            let digest =
                                checksum::digest_range(source, range.clone(), hasher).await.map_err(Error::Source)?;
                            plan.set_checksum(request.algorithm, digest);
                        }
                        ChecksumPlacement::Trailer => trailer = Some((request.algorithm, hasher)),
                    }
                }
                UploadBody::range(source.clone(), range, trailer, Arc::clone(&activity), on_sent)
            }
        };
        let mut request = plan.to_request(()).map_err(|e| Error::Usage(format!("invalid request URL: {e}")))?;
        for (name, value) in &inner.default_headers {
            if !request.headers().contains_key(name) {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        }
        if let Some(hook) = &inner.hook {
            hook(&mut request);
        }
        let (parts, ()) = request.into_parts();
        let mut request = http::Request::from_parts(parts, body);
        // A server may refuse a body before reading it (413 from rustus, 409 from tusd) and then neither
        // read the rest nor close: the connection must not carry the next request, or that one stalls.
        let capture = (!plan.body.is_empty()).then(|| capture_connection(&mut request));
        tracing::debug!(request = %kind, url = %Redacted::new(&plan.url), range = ?plan.body.range(), "sending");

        activity.touch();
        let url = &plan.url;
        let response = self.with_stall(&activity, kind, url, inner.http.request(request)).await?;
        let response = response.map_err(|e| match activity.take_source_error() {
            Some(source_error) => Error::Source(source_error),
            None => self.transport_error(e, kind, url),
        })?;
        if let (false, Some(capture)) = (response.status().is_success(), &capture) {
            if let Some(connected) = capture.connection_metadata().as_ref() {
                connected.poison();
            }
        }
        let (parts, mut incoming) = response.into_parts();
        let mut body = BytesMut::new();
        let read_body = async {
            while let Some(frame) = incoming.frame().await {
                let Ok(data) = frame?.into_data() else { continue };
                let room = BODY_LIMIT.saturating_sub(body.len());
                body.extend_from_slice(&data[..data.len().min(room)]);
                if body.len() >= BODY_LIMIT {
                    break; // Dropping the rest closes the connection.
                }
            }
            Ok::<(), hyper::Error>(())
        };
        // A body that breaks off after the head arrived does not change the answer. It only feeds error
        // messages, so it gets one stall timeout in all, not per piece: a server dripping a byte every
        // so often (each one progress for the stall watchdog) must not hold the request for hours.
        let read_body = async {
            match inner.stall_timeout {
                Some(limit) => tokio::time::timeout(limit, read_body).await.unwrap_or(Ok(())),
                None => read_body.await,
            }
        };
        if let Err(e) = read_body.await {
            tracing::debug!(error = %e, "response body broke off");
        }
        let head = ResponseHead::from(parts);
        tracing::debug!(request = %kind, status = %head.status, "answered");
        Ok(Response { head, body: body.freeze() })
    }

    async fn with_stall<T>(
        &self,
        activity: &Activity,
        request: RequestKind,
        url: &Url,
        fut: impl Future<Output = T>,
    ) -> Result<T, Error> {
        let Some(limit) = self.inner.stall_timeout else {
            return Ok(fut.await);
        };
        tokio::select! {
            out = fut => Ok(out),
            () = activity.stalled(limit) => Err(Error::Timeout { request, url: Redacted::new(url), after: limit }),
        }
    }

    fn transport_error(&self, e: hyper_util::client::legacy::Error, request: RequestKind, url: &Url) -> Error {
        let redacted = Redacted::new(url);
        let root: &(dyn std::error::Error + 'static) = &e;
        if tls::error_chain(root).any(|c| c.downcast_ref::<ConnectTimeout>().is_some()) {
            let after = self.inner.connect_timeout.unwrap_or_default();
            return Error::Timeout { request, url: redacted, after };
        }
        // Over HTTP/2 the h2 crate flattens a connection's I/O error to a kind and a message, so a TLS 1.3
        // alert that arrives after the handshake (a refused client certificate) is only text there. rustls
        // words every alert "received fatal alert: …".
        let alert = || tls::error_chain(root).any(|c| c.to_string().contains("received fatal alert"));
        if tls::find_rustls_error(root).is_some() || alert() {
            return Error::Tls { url: redacted, source: Box::new(e) };
        }
        if e.is_connect() {
            return Error::Connect { url: redacted, source: Box::new(e) };
        }
        Error::Http { request, url: redacted, source: Box::new(e) }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("default_headers", &self.inner.default_headers.keys().collect::<Vec<_>>())
            .field("stall_timeout", &self.inner.stall_timeout)
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("method_override", &self.inner.method_override)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Setters record; errors (an unreadable PEM, a bad header) come from
/// [`ClientBuilder::build`]. The defaults are listed on each setter; they are not a stability promise.
#[must_use]
pub struct ClientBuilder {
    default_headers: HeaderMap,
    user_agent: HeaderValue,
    stall_timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    method_override: bool,
    hook: Option<RequestHook>,
    tls: TlsSettings,
    pool_idle_per_host: usize,
    errors: Vec<String>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            default_headers: HeaderMap::new(),
            user_agent: HeaderValue::from_static(concat!("tus-rs/", env!("CARGO_PKG_VERSION"))),
            stall_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            method_override: false,
            hook: None,
            tls: TlsSettings::default(),
            pool_idle_per_host: 32,
            errors: Vec::new(),
        }
    }
}

impl ClientBuilder {
    /// Adds a header sent on every request (aiotus's `headers`). Tus headers of a plan take precedence.
    pub fn default_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name_s = name.as_ref();
        match (HeaderName::from_bytes(name_s.as_bytes()), HeaderValue::from_str(value.as_ref())) {
            (Ok(n), Ok(v)) => {
                self.default_headers.append(n, v);
            }
            _ => self.errors.push(format!("invalid header {name_s:?}")),
        }
        self
    }

    /// Adds every header of `headers` to those sent on every request.
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in &headers {
            self.default_headers.append(name.clone(), value.clone());
        }
        self
    }

    /// Sets the `User-Agent`. Default `tus-rs/<version>`.
    pub fn user_agent(mut self, value: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(value.as_ref()) {
            Ok(v) => self.user_agent = v,
            Err(_) => self.errors.push(format!("invalid user agent {:?}", value.as_ref())),
        }
        self
    }

    /// A request whose body or response makes no progress for this long fails with [`Error::Timeout`],
    /// so nothing hangs. `None` waits forever. Default 30 s.
    pub fn stall_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// Bounds DNS, TCP connect and the TLS handshake together. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sends PATCH and DELETE as POST with `X-HTTP-Method-Override`. Default off.
    pub fn method_override(mut self, on: bool) -> Self {
        self.method_override = on;
        self
    }

    /// Calls `hook` with each request before it is sent (its body is not shown), to sign or tag it.
    pub fn on_request(mut self, hook: impl Fn(&mut http::Request<()>) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// How many idle connections to keep per host. Default 32.
    pub fn pool_max_idle_per_host(mut self, n: usize) -> Self {
        self.pool_idle_per_host = n;
        self
    }

    /// Offers HTTP/2 through ALPN on TLS connections. Default on; plain `http` always uses HTTP/1.1.
    pub fn http2(mut self, on: bool) -> Self {
        self.tls.http2(on);
        self
    }

    /// Trusts the Mozilla roots compiled in (feature `webpki-roots`, the default trust).
    pub fn tls_webpki_roots(mut self) -> Self {
        self.tls.webpki_roots();
        self
    }

    /// Trusts the operating system's roots (feature `native-roots`).
    pub fn tls_native_roots(mut self) -> Self {
        self.tls.native_roots();
        self
    }

    /// Trusts no built-in roots, only those added with [`ClientBuilder::add_root_certificate_pem`].
    pub fn tls_no_builtin_roots(mut self) -> Self {
        self.tls.no_builtin_roots();
        self
    }

    /// Also trusts the CA certificates in `pem`.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Self {
        self.tls.add_root_certificate_pem(pem);
        self
    }

    /// Presents a client certificate (mTLS): the chain, leaf first, and its private key, both PEM.
    pub fn identity_pem(mut self, cert_chain_pem: &[u8], key_pem: &[u8]) -> Self {
        self.tls.identity_pem(cert_chain_pem, key_pem);
        self
    }

    /// Accepts the server's certificate only if its SHA-256 fingerprint is one of the pins (repeat for
    /// rotation), like aiohttp's `Fingerprint`. The pin replaces chain validation, so self-signed
    /// certificates work; handshake signatures are still checked.
    pub fn tls_pin_sha256(mut self, pin: Fingerprint) -> Self {
        self.tls.pin_sha256(pin);
        self
    }

    /// With pins, also require a valid chain and host name, so pinning only tightens trust.
    pub fn tls_pin_with_chain(mut self, on: bool) -> Self {
        self.tls.pin_with_chain(on);
        self
    }

    /// Accepts any certificate: no verification of the chain or the host name. Dangerous; for testing.
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.tls.danger_accept_invalid_certs();
        self
    }

    /// Uses this rustls configuration as it is (the escape hatch for anything not offered here).
    pub fn tls_preconfigured(mut self, config: rustls::ClientConfig) -> Self {
        self.tls.preconfigured(config);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for a bad header; [`Error::Config`] for TLS settings that cannot work.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(Error::Usage(e));
        }
        let tls = tls::client_config(&self.tls).map_err(Error::Config)?;
        let connector = Connector::new(tls, self.connect_timeout);
        let mut builder = HyperClient::builder(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(self.pool_idle_per_host)
            .http1_max_buf_size(1024 * 1024);
        let http = builder.build(connector);
        let mut default_headers = self.default_headers;
        if !default_headers.contains_key(USER_AGENT) {
            default_headers.insert(USER_AGENT, self.user_agent);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                default_headers,
                stall_timeout: self.stall_timeout,
                connect_timeout: self.connect_timeout,
                method_override: self.method_override,
                hook: self.hook,
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("stall_timeout", &self.stall_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("method_override", &self.method_override)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}
