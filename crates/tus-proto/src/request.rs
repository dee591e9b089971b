//! Request plans for every tus operation, and the interpreters of their responses.

use std::ops::Range;
use std::time::SystemTime;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRAILER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use url::Url;

use crate::config::ServerConfiguration;
use crate::error::{Error, RequestKind};
use crate::header::{
    self, ChecksumAlgorithm, OFFSET_OCTET_STREAM, TusHeader, TusResumable, UploadChecksum, UploadConcat,
    UploadDeferLength, UploadExpires, UploadLength, UploadMetadata, UploadOffset, XHttpMethodOverride,
};
use crate::metadata::Metadata;

/// What a request's body is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Body {
    /// No body.
    Empty,
    /// The bytes `range` of the upload's source. The bytes stay with the caller, as quinn's `Transmit`:
    /// the plan only names them.
    Source(Range<u64>),
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Source(r) => r.end - r.start,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The source range, if the body has one (an empty range for an empty PATCH).
    pub fn range(&self) -> Option<Range<u64>> {
        match self {
            Self::Empty => None,
            Self::Source(r) => Some(r.clone()),
        }
    }
}

/// Where the `Upload-Checksum` of a body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumPlacement {
    /// In the request headers: the digest must be known before the body is sent.
    Header,
    /// In the HTTP trailers (`checksum-trailer`): computed while the body streams. The body is then sent
    /// without `Content-Length` (chunked in HTTP/1.1).
    Trailer,
}

/// A checksum the caller must compute over a request's body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChecksumRequest {
    /// The algorithm to use.
    pub algorithm: ChecksumAlgorithm,
    /// Where the result goes.
    pub placement: ChecksumPlacement,
}

/// One HTTP request to send: method, URL, headers, and the body as a byte range of the source.
///
/// Plans include every header tus needs, `Content-Length` among them. Send the headers as they are,
/// add your own (authentication, user agent), and stream the named byte range of your source as the
/// body. When [`RequestPlan::checksum`] is set, compute that digest over exactly the body's bytes and
/// attach it with [`RequestPlan::set_checksum`] (header placement) or as a trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPlan {
    /// Which operation this is.
    pub kind: RequestKind,
    /// The HTTP method.
    pub method: Method,
    /// The absolute URL to send the request to.
    pub url: Url,
    /// The headers to send.
    pub headers: HeaderMap,
    /// The body.
    pub body: Body,
    /// A checksum to compute over the body, if one was asked for.
    pub checksum: Option<ChecksumRequest>,
}

impl RequestPlan {
    fn new(kind: RequestKind, method: Method, url: Url) -> Self {
        let mut headers = HeaderMap::new();
        if kind != RequestKind::Options {
            headers.insert(TusResumable::NAME, HeaderValue::from_static(header::TUS_VERSION_1_0_0));
        }
        Self { kind, method, url, headers, body: Body::Empty, checksum: None }
    }

    /// Adds `Upload-Metadata`, or nothing for empty metadata (@tus/server refuses an empty header).
    fn set_metadata(&mut self, metadata: &Metadata) -> Result<(), Error> {
        if !metadata.is_empty() {
            let value = metadata.encode()?;
            let value = HeaderValue::from_str(&value).map_err(|_| Error::Usage("metadata is not a header value"))?;
            self.headers.insert(UploadMetadata::NAME, value);
        }
        Ok(())
    }

    fn with_body(mut self, body: Body) -> Self {
        if let Body::Source(_) = body {
            self.headers.insert(CONTENT_TYPE, HeaderValue::from_static(OFFSET_OCTET_STREAM));
        }
        self.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        self.body = body;
        self
    }

    fn with_checksum(mut self, checksum: Option<ChecksumRequest>) -> Self {
        if let Some(c) = &checksum {
            if c.placement == ChecksumPlacement::Trailer {
                self.headers.remove(CONTENT_LENGTH);
                self.headers.insert(TRAILER, HeaderValue::from_static("Upload-Checksum"));
            }
        }
        self.checksum = checksum;
        self
    }

    /// The `Upload-Offset` this request sends, for PATCH.
    pub fn offset(&self) -> Option<u64> {
        header::get::<UploadOffset>(&self.headers).ok().flatten().map(|o| o.0)
    }

    /// Attaches the body's digest as an `Upload-Checksum` header.
    pub fn set_checksum(&mut self, algorithm: ChecksumAlgorithm, digest: Vec<u8>) {
        self.headers.insert(UploadChecksum::NAME, UploadChecksum { algorithm, digest }.encode());
    }

    /// Rewrites a PATCH or DELETE as a POST carrying `X-HTTP-Method-Override`, for environments that
    /// cannot send those methods. Other methods (HEAD and OPTIONS among them) are left alone.
    #[must_use]
    pub fn with_method_override(mut self) -> Self {
        if self.method == Method::PATCH || self.method == Method::DELETE {
            let original = std::mem::replace(&mut self.method, Method::POST);
            self.headers.insert(XHttpMethodOverride::NAME, XHttpMethodOverride(original).encode());
        }
        self
    }

    /// An `http::Request` with this plan's method, URL and headers, and `body` as its body.
    ///
    /// # Errors
    ///
    /// [`http::Error`] if the URL is not a valid `http::Uri` (it always is for http(s) URLs).
    pub fn to_request<B>(&self, body: B) -> Result<http::Request<B>, http::Error> {
        let mut builder = http::Request::builder().method(self.method.clone()).uri(self.url.as_str());
        if let Some(h) = builder.headers_mut() {
            h.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        builder.body(body)
    }
}

/// The status and headers of a response: all the protocol needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseHead {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
}

impl ResponseHead {
    /// A response head from its parts.
    pub fn new(status: StatusCode, headers: HeaderMap) -> Self {
        Self { status, headers }
    }

    /// The head of an `http::Response`, copying its headers.
    pub fn of<B>(response: &http::Response<B>) -> Self {
        Self { status: response.status(), headers: response.headers().clone() }
    }

    fn require_success(&self, request: RequestKind) -> Result<(), Error> {
        if self.status.is_success() { Ok(()) } else { Err(Error::Status { request, status: self.status }) }
    }

    fn offset(&self) -> Result<Option<u64>, Error> {
        Ok(header::get::<UploadOffset>(&self.headers)?.map(|o| o.0))
    }

    fn expires(&self) -> Option<SystemTime> {
        header::get::<UploadExpires>(&self.headers).ok().flatten().and_then(|e| e.0)
    }
}

impl From<http::response::Parts> for ResponseHead {
    fn from(parts: http::response::Parts) -> Self {
        Self { status: parts.status, headers: parts.headers }
    }
}

/// A plan for `OPTIONS` on a creation endpoint. It carries no `Tus-Resumable`, as the protocol allows.
pub fn options(endpoint: &Url) -> RequestPlan {
    RequestPlan::new(RequestKind::Options, Method::OPTIONS, endpoint.clone())
}

/// A plan for `HEAD` on an upload URL.
pub fn head(upload: &Url) -> RequestPlan {
    RequestPlan::new(RequestKind::Head, Method::HEAD, upload.clone())
}

/// A plan for `DELETE` on an upload URL (termination).
pub fn delete(upload: &Url) -> RequestPlan {
    RequestPlan::new(RequestKind::Delete, Method::DELETE, upload.clone()).with_body(Body::Empty)
}

/// Checks the response to a DELETE.
///
/// # Errors
///
/// [`Error::Status`] for a non-2xx status.
pub fn check_delete(response: &ResponseHead) -> Result<(), Error> {
    response.require_success(RequestKind::Delete)
}

/// The length of an upload at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Length {
    /// The length is known: `Upload-Length`.
    Known(u64),
    /// The length is not known yet: `Upload-Defer-Length: 1` (creation-defer-length).
    Deferred,
}

/// A creation request: POST to the creation endpoint.
///
/// ```
/// use tus_proto::{Create, Length, Metadata};
///
/// let endpoint = url::Url::parse("https://tus.example/files/")?;
/// let mut metadata = Metadata::new();
/// metadata.insert("filename", "a.bin");
/// let plan = Create::new(Length::Known(1000)).metadata(metadata).plan(&endpoint)?;
/// assert_eq!(plan.method, http::Method::POST);
/// assert_eq!(plan.headers["upload-length"], "1000");
/// assert_eq!(plan.headers["upload-metadata"], "filename YS5iaW4=");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    length: Length,
    metadata: Metadata,
    partial: bool,
    body: Option<Range<u64>>,
}

impl Create {
    /// A creation of an upload of `length`.
    pub fn new(length: Length) -> Self {
        Self { length, metadata: Metadata::new(), partial: false, body: None }
    }

    /// Sets the metadata. Empty metadata sends no `Upload-Metadata` header (@tus/server refuses an empty one).
    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Marks the upload as a part of a later final upload (`Upload-Concat: partial`).
    #[must_use]
    pub fn partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// Sends the source bytes `range` (which must start at 0) in the POST body (creation-with-upload).
    #[must_use]
    pub fn with_upload(mut self, range: Range<u64>) -> Self {
        self.body = Some(range);
        self
    }

    /// The request plan.
    ///
    /// # Errors
    ///
    /// [`Error::Metadata`] for metadata that cannot be encoded; [`Error::Usage`] for a body that does not
    /// start at 0 or is longer than the known length.
    pub fn plan(&self, endpoint: &Url) -> Result<RequestPlan, Error> {
        let kind = if self.body.is_some() { RequestKind::CreateWithUpload } else { RequestKind::Create };
        let mut plan = RequestPlan::new(kind, Method::POST, endpoint.clone());
        match self.length {
            Length::Known(n) => plan.headers.insert(UploadLength::NAME, UploadLength(n).encode()),
            Length::Deferred => plan.headers.insert(UploadDeferLength::NAME, UploadDeferLength.encode()),
        };
        plan.set_metadata(&self.metadata)?;
        if self.partial {
            plan.headers.insert(UploadConcat::NAME, UploadConcat::Partial.encode());
        }
        let body = match &self.body {
            None => Body::Empty,
            Some(r) if r.start != 0 || r.end < r.start => {
                return Err(Error::Usage("a creation-with-upload body must be a range starting at 0"));
            }
            Some(r) if matches!(self.length, Length::Known(n) if r.end > n) => {
                return Err(Error::Usage("a creation-with-upload body is longer than the upload"));
            }
            Some(r) => Body::Source(r.clone()),
        };
        Ok(plan.with_body(body))
    }
}

/// A plan for the POST that creates a final upload joining `parts` in order (concatenation).
///
/// The final upload carries the metadata; parts' metadata is not inherited. The part URLs are sent as
/// given (absolute), which tusd and rustus both accept.
///
/// # Errors
///
/// [`Error::Usage`] for an empty part list; [`Error::Metadata`] for metadata that cannot be encoded.
pub fn concatenate(endpoint: &Url, parts: &[Url], metadata: &Metadata) -> Result<RequestPlan, Error> {
    if parts.is_empty() {
        return Err(Error::Usage("a final upload needs at least one part"));
    }
    let mut plan = RequestPlan::new(RequestKind::Concatenate, Method::POST, endpoint.clone());
    let concat = UploadConcat::Final(parts.iter().map(|u| u.as_str().to_owned()).collect());
    plan.headers.insert(UploadConcat::NAME, concat.encode());
    plan.set_metadata(metadata)?;
    Ok(plan.with_body(Body::Empty))
}

/// A created upload: the answer to a creation or concatenation POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The upload URL: `Location` resolved against the request URL (RFC 3986).
    pub url: Url,
    /// The bytes of the body the server stored (creation-with-upload); 0 otherwise.
    pub offset: u64,
    /// When the upload expires, if the server said and the date was readable.
    pub expires: Option<SystemTime>,
}

impl Created {
    /// Interprets the response to a creation (or concatenation) request.
    ///
    /// Any 2xx with a `Location` is accepted (201 is the spec's; a 2xx without `Location` is not a tus
    /// endpoint). `Location` may be absolute, absolute-path, relative or scheme-relative, and must
    /// resolve to an http(s) URL. For creation-with-upload, a missing `Upload-Offset` means the server
    /// kept none of the body; one past the body is a protocol error.
    ///
    /// # Errors
    ///
    /// [`Error::Status`], [`Error::MissingHeader`], [`Error::InvalidLocation`], [`Error::InvalidHeader`],
    /// [`Error::OffsetOutOfRange`].
    pub fn from_response(request: &RequestPlan, response: &ResponseHead) -> Result<Self, Error> {
        response.require_success(request.kind)?;
        let Some(location) = response.headers.get(LOCATION) else {
            return Err(Error::MissingHeader {
                request: request.kind,
                header: "Location",
                hint: ": a 2xx without Location is not a tus creation endpoint",
            });
        };
        let url = resolve_location(&request.url, location.as_bytes())?;
        let sent = request.body.len();
        let offset = match response.offset()? {
            // A final upload holds its parts' bytes at once, and rustus says so in `Upload-Offset`; its
            // offset is checked with a HEAD, so only `Location` matters here.
            _ if request.kind == RequestKind::Concatenate => 0,
            None => 0,
            Some(o) if request.kind == RequestKind::CreateWithUpload && o <= sent => o,
            Some(0) => 0,
            Some(o) => {
                return Err(Error::OffsetOutOfRange {
                    request: request.kind,
                    offset: o,
                    expected: format!("0..={sent}"),
                });
            }
        };
        Ok(Self { url, offset, expires: response.expires() })
    }
}

/// Resolves a `Location` value against the URL of the request it answered, by RFC 3986.
///
/// # Errors
///
/// [`Error::InvalidLocation`] for an empty, non-UTF-8 or unresolvable value, or one that is not http(s).
pub fn resolve_location(base: &Url, location: &[u8]) -> Result<Url, Error> {
    let text = String::from_utf8_lossy(location);
    let invalid =
        |reason: &str| Error::InvalidLocation { location: text.clone().into_owned(), reason: reason.to_owned() };
    let s = std::str::from_utf8(location).map_err(|_| invalid("not UTF-8"))?.trim();
    if s.is_empty() {
        return Err(invalid("empty"));
    }
    let url = base.join(s).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("not an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(url)
}

/// What a HEAD on an upload tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// How many bytes the server holds.
    pub offset: u64,
    /// The upload's length, `None` while deferred.
    pub length: Option<u64>,
    /// Whether the server says the length is deferred (`Upload-Defer-Length: 1`).
    pub deferred: bool,
    /// The metadata, if the upload has any.
    pub metadata: Option<Metadata>,
    /// `Upload-Concat`, for partial and final uploads.
    pub concat: Option<UploadConcat>,
    /// When the upload expires, if the server said and the date was readable.
    pub expires: Option<SystemTime>,
}

impl UploadInfo {
    /// Interprets the response to a HEAD.
    ///
    /// Any 2xx is accepted. `Upload-Offset` is required: a 2xx without it is what a HEAD turned into a
    /// GET by a proxy looks like, and is an error, never offset 0. The offset may not exceed a known
    /// length.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] (404, 410 and 403 mean the upload is gone), [`Error::MissingHeader`],
    /// [`Error::InvalidHeader`], [`Error::OffsetOutOfRange`], [`Error::Metadata`].
    pub fn from_response(response: &ResponseHead) -> Result<Self, Error> {
        Self::parse(response, true)
    }

    /// As [`UploadInfo::from_response`], but metadata or `Upload-Concat` that cannot be decoded are left
    /// out instead of failing: resuming needs only the offset and the length.
    pub(crate) fn offsets_from_response(response: &ResponseHead) -> Result<Self, Error> {
        Self::parse(response, false)
    }

    fn parse(response: &ResponseHead, strict: bool) -> Result<Self, Error> {
        response.require_success(RequestKind::Head)?;
        let Some(offset) = response.offset()? else {
            return Err(Error::MissingHeader {
                request: RequestKind::Head,
                header: "Upload-Offset",
                hint: " (was the HEAD answered as a GET by a proxy?)",
            });
        };
        let length = header::get::<UploadLength>(&response.headers)?.map(|l| l.0);
        let deferred = header::get::<UploadDeferLength>(&response.headers)?.is_some() && length.is_none();
        if let Some(length) = length {
            if offset > length {
                return Err(Error::OffsetOutOfRange {
                    request: RequestKind::Head,
                    offset,
                    expected: format!("at most the Upload-Length {length}"),
                });
            }
        }
        let metadata = header::get::<UploadMetadata>(&response.headers);
        let concat = header::get::<UploadConcat>(&response.headers);
        let (metadata, concat) =
            if strict { (metadata?, concat?) } else { (metadata.ok().flatten(), concat.ok().flatten()) };
        Ok(Self { offset, length, deferred, metadata: metadata.map(|m| m.0), concat, expires: response.expires() })
    }

    /// Whether the upload is complete: its length is known and the server holds all of it.
    pub fn is_complete(&self) -> bool {
        self.length == Some(self.offset)
    }
}

/// A PATCH: the bytes `offset..offset + len` of the source.
///
/// ```
/// use tus_proto::{Patch, Body};
///
/// let url = url::Url::parse("https://tus.example/files/abc")?;
/// let plan = Patch::new(4096, 1024).plan(&url);
/// assert_eq!(plan.body, Body::Source(4096..5120));
/// assert_eq!(plan.headers["upload-offset"], "4096");
/// assert_eq!(plan.headers["content-length"], "1024");
/// assert_eq!(plan.headers["content-type"], "application/offset+octet-stream");
/// # Ok::<(), url::ParseError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    offset: u64,
    len: u64,
    declare_length: Option<u64>,
    checksum: Option<ChecksumRequest>,
}

impl Patch {
    /// A PATCH of `len` bytes at `offset`.
    pub fn new(offset: u64, len: u64) -> Self {
        Self { offset, len, declare_length: None, checksum: None }
    }

    /// Sends `Upload-Length` with this PATCH, for a deferred upload whose length is now known. Send it on
    /// one PATCH only: servers refuse a repeat, even with the same value.
    #[must_use]
    pub fn declare_length(mut self, length: u64) -> Self {
        self.declare_length = Some(length);
        self
    }

    /// Asks for an `Upload-Checksum` over the body.
    #[must_use]
    pub fn checksum(mut self, algorithm: ChecksumAlgorithm, placement: ChecksumPlacement) -> Self {
        self.checksum = Some(ChecksumRequest { algorithm, placement });
        self
    }

    /// The request plan.
    pub fn plan(&self, upload: &Url) -> RequestPlan {
        let mut plan = RequestPlan::new(RequestKind::Patch, Method::PATCH, upload.clone());
        plan.headers.insert(UploadOffset::NAME, UploadOffset(self.offset).encode());
        if let Some(length) = self.declare_length {
            plan.headers.insert(UploadLength::NAME, UploadLength(length).encode());
        }
        plan.with_body(Body::Source(self.offset..self.offset + self.len)).with_checksum(self.checksum.clone())
    }
}

/// What a successful PATCH tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patched {
    /// The server's new offset: between the sent offset and the end of the sent body (a server may keep
    /// only part of a body).
    pub offset: u64,
    /// When the upload expires, if the server said and the date was readable.
    pub expires: Option<SystemTime>,
}

impl Patched {
    /// Interprets the response to a PATCH planned as `request`.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] (409: offset conflict, resync with HEAD; 423: locked; 460 or rustus's 417:
    /// checksum mismatch; 413: body too large), [`Error::MissingHeader`], [`Error::InvalidHeader`],
    /// [`Error::OffsetOutOfRange`] for an offset before the one sent or past the end of the body.
    pub fn from_response(request: &RequestPlan, response: &ResponseHead) -> Result<Self, Error> {
        response.require_success(RequestKind::Patch)?;
        let Some(offset) = response.offset()? else {
            return Err(Error::MissingHeader { request: RequestKind::Patch, header: "Upload-Offset", hint: "" });
        };
        let range = request.body.range().unwrap_or(0..0);
        let start = request.offset().unwrap_or(range.start);
        if offset < start || offset > range.end {
            return Err(Error::OffsetOutOfRange {
                request: RequestKind::Patch,
                offset,
                expected: format!("{start}..={}", range.end),
            });
        }
        Ok(Self { offset, expires: response.expires() })
    }
}

impl ServerConfiguration {
    /// Interprets the response to OPTIONS.
    ///
    /// # Errors
    ///
    /// [`Error::Status`], [`Error::MissingHeader`] when `Tus-Version` is absent, [`Error::InvalidHeader`]
    /// for a malformed number or list.
    pub fn from_response(response: &ResponseHead) -> Result<Self, Error> {
        response.require_success(RequestKind::Options)?;
        let Some(versions) = header::get::<header::TusVersion>(&response.headers)? else {
            return Err(Error::MissingHeader {
                request: RequestKind::Options,
                header: "Tus-Version",
                hint: ": is this a tus endpoint?",
            });
        };
        Ok(Self {
            versions: versions.0,
            max_size: header::get::<header::TusMaxSize>(&response.headers)?.map(|m| m.0),
            extensions: header::get::<header::TusExtension>(&response.headers)?.unwrap_or_default().0,
            checksum_algorithms: header::get::<header::TusChecksumAlgorithm>(&response.headers)?.unwrap_or_default().0,
        })
    }
}
