//! The upload state machine.

use std::collections::VecDeque;
use std::time::SystemTime;

use http::StatusCode;
use url::Url;

use crate::error::{Error, RequestKind};
use crate::header::{self, ChecksumAlgorithm, UploadLength};
use crate::metadata::Metadata;
use crate::request::{
    self, ChecksumPlacement, ChecksumRequest, Create, Created, Length, Patch, Patched, RequestPlan, ResponseHead,
    UploadInfo,
};

/// The default chunk size: 4 MiB, as aiotus.
pub const DEFAULT_CHUNK_SIZE: u64 = 4 * 1024 * 1024;

/// How an [`Upload`] creates and sends its data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOptions {
    /// The most bytes one PATCH carries. Default [`DEFAULT_CHUNK_SIZE`].
    pub chunk_size: u64,
    /// The metadata sent at creation.
    pub metadata: Metadata,
    /// Create a partial upload, for concatenation (`Upload-Concat: partial`).
    pub partial: bool,
    /// Send the first chunk in the creation POST (creation-with-upload). Only for uploads of known length.
    pub creation_with_upload: bool,
    /// Put an `Upload-Checksum` on every PATCH.
    pub checksum: Option<ChecksumRequest>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            metadata: Metadata::new(),
            partial: false,
            creation_with_upload: false,
            checksum: None,
        }
    }
}

impl UploadOptions {
    /// Sets the chunk size.
    #[must_use]
    pub fn chunk_size(mut self, chunk_size: u64) -> Self {
        self.chunk_size = chunk_size;
        self
    }

    /// Sets the metadata.
    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Creates a partial upload.
    #[must_use]
    pub fn partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }

    /// Sends the first chunk with the creation POST.
    #[must_use]
    pub fn creation_with_upload(mut self, on: bool) -> Self {
        self.creation_with_upload = on;
        self
    }

    /// Checksums every PATCH with `algorithm`, in the header or a trailer.
    #[must_use]
    pub fn checksum(mut self, algorithm: ChecksumAlgorithm, placement: ChecksumPlacement) -> Self {
        self.checksum = Some(ChecksumRequest { algorithm, placement });
        self
    }
}

/// What an [`Upload`] will do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// It will create the upload (POST).
    Creating,
    /// It does not know the server's offset and will ask (HEAD).
    Syncing,
    /// It knows the server's offset and will send data (PATCH).
    Uploading,
    /// The server holds every byte and knows the length. Nothing more to send.
    Complete,
    /// The server no longer has the upload (404, 410 or 403 on HEAD). See [`Upload::restart`].
    Gone,
}

/// Something that happened, for progress displays and logs. Drain with [`Upload::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server created the upload at `url`.
    Created {
        /// The upload URL.
        url: Url,
    },
    /// The server confirmed that it holds `offset` bytes (after a PATCH or a creation-with-upload).
    Confirmed {
        /// The confirmed offset.
        offset: u64,
    },
    /// A HEAD told the server's offset; it may be lower than `previous` if the server lost data.
    Resynced {
        /// The server's offset.
        offset: u64,
        /// The offset confirmed before.
        previous: u64,
    },
    /// The server said when the upload expires.
    Expires(SystemTime),
    /// The server holds every byte and knows the length.
    Completed,
    /// The upload is gone from the server.
    Gone,
}

/// One upload, as a state machine in the style of quinn-proto: it does no I/O and reads no clock.
///
/// Drive it like this:
/// 1. [`Upload::poll_request`] gives the next [`RequestPlan`], or `None` when a request is in flight or
///    the upload is complete or gone. Send it; its body names a byte range of your source.
/// 2. Feed the answer to [`Upload::handle_response`], or call [`Upload::handle_failure`] when no answer
///    came (connection lost, timeout). After any failure the next plan is a HEAD: the machine never
///    plans bytes at an offset the server has not confirmed.
/// 3. Drain [`Upload::poll_event`] for progress.
/// 4. Stop when [`Upload::is_complete`]; that is only true once the server's offset equals the length
///    and the server knows the length.
///
/// For an upload of unknown length (creation-defer-length), every PATCH plan asks for exactly
/// `chunk_size` bytes; a caller whose source ends sooner calls [`Upload::declare_length`] before
/// polling, and the next PATCH carries `Upload-Length`.
///
/// ```
/// use tus_proto::{Upload, UploadOptions, ResponseHead};
/// use http::{HeaderMap, StatusCode};
///
/// let endpoint = url::Url::parse("https://tus.example/files/")?;
/// let mut upload = Upload::create(endpoint, Some(10), UploadOptions::default().chunk_size(6))?;
///
/// let post = upload.poll_request().unwrap();
/// assert_eq!(post.method, http::Method::POST);
/// let mut headers = HeaderMap::new();
/// headers.insert("location", "/files/abc".parse()?);
/// upload.handle_response(&ResponseHead::new(StatusCode::CREATED, headers))?;
///
/// let patch = upload.poll_request().unwrap();
/// assert_eq!(patch.body, tus_proto::Body::Source(0..6));
/// let mut headers = HeaderMap::new();
/// headers.insert("upload-offset", "6".parse()?);
/// upload.handle_response(&ResponseHead::new(StatusCode::NO_CONTENT, headers))?;
///
/// let patch = upload.poll_request().unwrap();
/// assert_eq!(patch.body, tus_proto::Body::Source(6..10));
/// let mut headers = HeaderMap::new();
/// headers.insert("upload-offset", "10".parse()?);
/// upload.handle_response(&ResponseHead::new(StatusCode::NO_CONTENT, headers))?;
/// assert!(upload.is_complete());
/// assert_eq!(upload.url().unwrap().as_str(), "https://tus.example/files/abc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Upload {
    endpoint: Option<Url>,
    url: Option<Url>,
    options: UploadOptions,
    /// The total length, when known here.
    length: Option<u64>,
    /// Whether the server knows the length.
    server_has_length: bool,
    /// The last offset the server confirmed.
    offset: u64,
    /// The end of the furthest byte range ever sent; `None` when unknown (a resumed upload).
    sent_end: Option<u64>,
    state: State,
    in_flight: Option<RequestPlan>,
    events: VecDeque<Event>,
}

impl Upload {
    /// An upload to create at `endpoint`, of `length` bytes, or of unknown length when `None`.
    ///
    /// # Errors
    ///
    /// [`Error::Metadata`] for metadata that cannot be encoded, [`Error::Usage`] for a zero chunk size.
    pub fn create(endpoint: Url, length: Option<u64>, options: UploadOptions) -> Result<Self, Error> {
        options.metadata.validate()?;
        let mut upload = Self::new(Some(endpoint), None, length, options)?;
        upload.state = State::Creating;
        Ok(upload)
    }

    /// An existing upload at `url` to resume: the first request is a HEAD.
    ///
    /// `length` is the source's length if known; the server's length must then agree.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for a zero chunk size.
    pub fn resume(url: Url, length: Option<u64>, options: UploadOptions) -> Result<Self, Error> {
        Self::new(None, Some(url), length, options)
    }

    fn new(
        endpoint: Option<Url>,
        url: Option<Url>,
        length: Option<u64>,
        options: UploadOptions,
    ) -> Result<Self, Error> {
        if options.chunk_size == 0 {
            return Err(Error::Usage("the chunk size must be at least 1 byte"));
        }
        Ok(Self {
            endpoint,
            url,
            options,
            length,
            server_has_length: false,
            offset: 0,
            sent_end: None,
            state: State::Syncing,
            in_flight: None,
            events: VecDeque::new(),
        })
    }

    /// Sets the creation endpoint of a resumed upload, so that [`Upload::restart`] can create it anew.
    pub fn set_endpoint(&mut self, endpoint: Url) {
        self.endpoint = Some(endpoint);
    }

    /// The upload URL, once created (or as given to [`Upload::resume`]).
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// The creation endpoint, if known.
    pub fn endpoint(&self) -> Option<&Url> {
        self.endpoint.as_ref()
    }

    /// The last offset the server confirmed.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The total length, if known.
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// What the machine will do next.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the server holds every byte and knows the length.
    pub fn is_complete(&self) -> bool {
        self.state == State::Complete
    }

    /// Whether a request is in flight (planned, not yet answered).
    pub fn is_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The current chunk size.
    pub fn chunk_size(&self) -> u64 {
        self.options.chunk_size
    }

    /// The options.
    pub fn options(&self) -> &UploadOptions {
        &self.options
    }

    /// Changes the chunk size for the following PATCHes (for example halved after a 413).
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for zero.
    pub fn set_chunk_size(&mut self, chunk_size: u64) -> Result<(), Error> {
        if chunk_size == 0 {
            return Err(Error::Usage("the chunk size must be at least 1 byte"));
        }
        self.options.chunk_size = chunk_size;
        Ok(())
    }

    /// Turns creation-with-upload on or off for the next creation (off after a server refused it).
    pub fn set_creation_with_upload(&mut self, on: bool) {
        self.options.creation_with_upload = on;
    }

    /// Turns the per-PATCH checksum on or off, for example after learning what the server supports.
    pub fn set_checksum(&mut self, checksum: Option<ChecksumRequest>) {
        self.options.checksum = checksum;
    }

    /// Declares the length of an upload created with an unknown length, once the source's end is known.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLength`] if a different length is already known, or if the server already holds or
    /// was already sent more bytes.
    pub fn declare_length(&mut self, length: u64) -> Result<(), Error> {
        if let Some(known) = self.length {
            if known == length {
                return Ok(());
            }
            return Err(Error::InvalidLength { declared: length, reason: format!("the known length {known}") });
        }
        if length < self.offset {
            return Err(Error::InvalidLength {
                declared: length,
                reason: format!("the {} bytes the server already holds", self.offset),
            });
        }
        if let Some(sent) = self.sent_end.filter(|s| *s > length) {
            return Err(Error::InvalidLength { declared: length, reason: format!("the {sent} bytes already sent") });
        }
        self.length = Some(length);
        self.check_complete();
        Ok(())
    }

    /// The next request to send, or `None` while one is in flight or when there is nothing to send.
    pub fn poll_request(&mut self) -> Option<RequestPlan> {
        if self.in_flight.is_some() {
            return None;
        }
        let plan = match self.state {
            State::Complete | State::Gone => return None,
            State::Creating => self.plan_create()?,
            State::Syncing => request::head(self.url.as_ref()?),
            State::Uploading => self.plan_patch()?,
        };
        if let Some(range) = plan.body.range() {
            self.sent_end = Some(self.sent_end.map_or(range.end, |s| s.max(range.end)));
        }
        self.in_flight = Some(plan.clone());
        Some(plan)
    }

    fn plan_create(&self) -> Option<RequestPlan> {
        let endpoint = self.endpoint.as_ref()?;
        let mut create = Create::new(self.length.map_or(Length::Deferred, Length::Known))
            .metadata(self.options.metadata.clone())
            .partial(self.options.partial);
        if let Some(length) = self.length.filter(|l| *l > 0 && self.options.creation_with_upload) {
            create = create.with_upload(0..length.min(self.options.chunk_size));
        }
        // Metadata was validated in `create`, and the body range is built above to be valid.
        create.plan(endpoint).ok()
    }

    fn plan_patch(&self) -> Option<RequestPlan> {
        let url = self.url.as_ref()?;
        let end = match self.length {
            Some(length) => length.min(self.offset.saturating_add(self.options.chunk_size)),
            None => self.offset.saturating_add(self.options.chunk_size),
        };
        let mut patch = Patch::new(self.offset, end - self.offset);
        if let Some(length) = self.length.filter(|_| !self.server_has_length) {
            patch = patch.declare_length(length);
        }
        if let Some(c) = &self.options.checksum {
            patch = patch.checksum(c.algorithm.clone(), c.placement);
        }
        Some(patch.plan(url))
    }

    /// Feeds the response to the request in flight.
    ///
    /// On success the machine moves on. On error it falls back to a safe next step (a new creation after
    /// a failed creation, a HEAD after anything else, nothing when the upload is gone) and returns the
    /// error for the caller to classify: retry after a delay, or give up.
    ///
    /// # Errors
    ///
    /// What the interpreters in this crate return, [`Error::LengthMismatch`] and
    /// [`Error::OffsetOutOfRange`] for a HEAD that contradicts what was sent, and [`Error::Usage`] when
    /// no request is in flight.
    pub fn handle_response(&mut self, response: &ResponseHead) -> Result<(), Error> {
        let Some(plan) = self.in_flight.take() else {
            return Err(Error::Usage("handle_response called with no request in flight"));
        };
        match plan.kind {
            RequestKind::Create | RequestKind::CreateWithUpload => {
                let created = Created::from_response(&plan, response).inspect_err(|_| self.state = State::Creating)?;
                self.url = Some(created.url.clone());
                // From the request, not from `self.length`: a length declared while a deferred-length
                // POST was in flight has not reached the server yet.
                self.server_has_length = header::get::<UploadLength>(&plan.headers)
                    .ok()
                    .flatten()
                    .is_some_and(|sent| self.length == Some(sent.0));
                self.sent_end = Some(plan.body.len());
                self.events.push_back(Event::Created { url: created.url });
                self.expires(created.expires);
                self.offset = created.offset;
                if created.offset > 0 {
                    self.events.push_back(Event::Confirmed { offset: created.offset });
                }
                self.state = State::Uploading;
            }
            RequestKind::Head => match UploadInfo::offsets_from_response(response) {
                Ok(info) => self.apply_info(&info).inspect_err(|_| self.state = State::Syncing)?,
                Err(e) => {
                    let gone =
                        matches!(e.status(), Some(StatusCode::NOT_FOUND | StatusCode::GONE | StatusCode::FORBIDDEN));
                    if gone {
                        self.state = State::Gone;
                        self.events.push_back(Event::Gone);
                    } else {
                        self.state = State::Syncing;
                    }
                    return Err(e);
                }
            },
            RequestKind::Patch => {
                let patched = Patched::from_response(&plan, response).inspect_err(|_| self.state = State::Syncing)?;
                if let Some(declared) = header::get::<UploadLength>(&plan.headers).ok().flatten() {
                    if self.length == Some(declared.0) {
                        self.server_has_length = true;
                    }
                }
                self.expires(patched.expires);
                self.state = State::Uploading;
                let sent = plan.body.len();
                if patched.offset == self.offset && sent > 0 {
                    // Reported like any failure, and followed by a HEAD like any failure.
                    self.state = State::Syncing;
                    return Err(Error::NoProgress { offset: self.offset, sent });
                }
                self.offset = patched.offset;
                self.events.push_back(Event::Confirmed { offset: patched.offset });
            }
            RequestKind::Options | RequestKind::Concatenate | RequestKind::Delete => {
                return Err(Error::Usage("the upload state machine never plans this request"));
            }
        }
        self.check_complete();
        Ok(())
    }

    /// Records that the request in flight got no response (connection lost, timeout, cancelled). A failed
    /// creation will be planned again; anything else is followed by a HEAD.
    pub fn handle_failure(&mut self) {
        if let Some(plan) = self.in_flight.take() {
            self.state = match plan.kind {
                RequestKind::Create | RequestKind::CreateWithUpload => State::Creating,
                _ => State::Syncing,
            };
        }
    }

    /// Creates the upload anew after it is [`State::Gone`], for a source that can be read from the start
    /// again.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] if the upload is not gone or no creation endpoint is known.
    pub fn restart(&mut self) -> Result<(), Error> {
        if self.state != State::Gone {
            return Err(Error::Usage("only an upload that is gone can be restarted"));
        }
        if self.endpoint.is_none() {
            return Err(Error::Usage("restart needs the creation endpoint"));
        }
        self.url = None;
        self.offset = 0;
        self.sent_end = None;
        self.server_has_length = false;
        self.state = State::Creating;
        Ok(())
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn apply_info(&mut self, info: &UploadInfo) -> Result<(), Error> {
        // Check everything before changing anything: a HEAD that is rejected must leave no trace.
        let (length, server_has_length) = match (self.length, info.length) {
            (Some(local), Some(server)) if local != server => {
                return Err(Error::LengthMismatch { server, local });
            }
            (Some(local), Some(_)) => (Some(local), true),
            // Only an explicit `Upload-Defer-Length: 1` says the server lacks the length. A HEAD with
            // neither header is a broken server (protocol.md pitfall 6); sending `Upload-Length` again
            // would get a 400 from tusd and rustus, so a known length is taken as known to the server.
            (Some(local), None) => (Some(local), !info.deferred),
            (None, None) => (None, false),
            (None, Some(server)) => {
                if self.sent_end.is_some_and(|s| s > server) {
                    return Err(Error::LengthMismatch { server, local: self.sent_end.unwrap_or(0) });
                }
                (Some(server), true)
            }
        };
        if let Some(sent) = self.sent_end {
            if info.offset > sent {
                return Err(Error::OffsetOutOfRange {
                    request: RequestKind::Head,
                    offset: info.offset,
                    expected: format!("at most the {sent} bytes sent"),
                });
            }
        }
        if let Some(length) = length {
            if info.offset > length {
                return Err(Error::OffsetOutOfRange {
                    request: RequestKind::Head,
                    offset: info.offset,
                    expected: format!("at most the length {length}"),
                });
            }
        }
        self.length = length;
        self.server_has_length = server_has_length;
        let previous = self.offset;
        self.offset = info.offset;
        self.sent_end = Some(self.sent_end.map_or(info.offset, |s| s.max(info.offset)));
        self.events.push_back(Event::Resynced { offset: info.offset, previous });
        self.expires(info.expires);
        self.state = State::Uploading;
        Ok(())
    }

    fn expires(&mut self, expires: Option<SystemTime>) {
        if let Some(t) = expires {
            self.events.push_back(Event::Expires(t));
        }
    }

    fn check_complete(&mut self) {
        if self.state == State::Uploading && self.server_has_length && self.length == Some(self.offset) {
            self.state = State::Complete;
            self.events.push_back(Event::Completed);
        }
    }
}

#[cfg(test)]
mod tests;
