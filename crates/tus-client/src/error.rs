use std::fmt;
use std::time::Duration;

use http::StatusCode;
use tus_proto::RequestKind;
use url::Url;

use crate::tls::{PinMismatch, TlsConfigError};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a retry layer should do about an [`Error`], without matching on its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// Worth trying again after a delay: connection failures, timeouts, 5xx, 408, 423 and 429.
    Transient,
    /// The client's idea of the offset is stale (409, or a checksum mismatch: 460, rustus's 417): ask the
    /// server for its offset (HEAD) and go on from there, without waiting.
    Resync,
    /// Trying again will not help: other 4xx, protocol violations, TLS failures, bad input.
    Fatal,
}

/// An error from the tus client.
///
/// `Display` prints only this level, as in hyper; the cause is in [`std::error::Error::source`].
///
/// Use the predicates ([`Error::is_timeout`], [`Error::is_connect`], [`Error::status`]) and
/// [`Error::retry_class`] rather than matching on variants. Upload URLs are printed without their query
/// strings, since a query may carry a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error("{request} {url} answered {}{}", tus_proto::status_text(*status), server_says(body))]
    Status {
        /// The request that was answered.
        request: RequestKind,
        /// The request URL, without its query.
        url: Redacted,
        /// The status.
        status: StatusCode,
        /// The start of the response body, as text, for the message.
        body: String,
        /// How long the server asked the client to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The server broke the protocol (aiotus's `ProtocolError`).
    #[error("{request} {url}: the server broke the protocol")]
    Protocol {
        /// The request that was answered.
        request: RequestKind,
        /// The request URL, without its query.
        url: Redacted,
        /// What was wrong.
        #[source]
        source: tus_proto::Error,
    },
    /// No connection could be made (DNS, TCP refused or unreachable).
    #[error("cannot connect to {url}")]
    Connect {
        /// The URL, without its query.
        url: Redacted,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed: an untrusted certificate, a pin mismatch, a protocol error.
    #[error("TLS handshake with {url} failed{}", pin_detail(.source.as_ref()))]
    Tls {
        /// The URL, without its query.
        url: Redacted,
        /// The cause; [`Error::pin_mismatch`] finds a pin mismatch in it.
        #[source]
        source: BoxError,
    },
    /// A request made no progress for the stall timeout, or connecting took longer than the connect timeout.
    #[error("{request} {url} timed out: no progress for {after:?}")]
    Timeout {
        /// The request.
        request: RequestKind,
        /// The URL, without its query.
        url: Redacted,
        /// The timeout that expired.
        after: Duration,
    },
    /// The connection broke during the request.
    #[error("{request} {url}: connection failed")]
    Http {
        /// The request.
        request: RequestKind,
        /// The URL, without its query.
        url: Redacted,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Reading the upload's source failed.
    #[error("reading the source failed")]
    Source(#[source] std::io::Error),
    /// The caller passed something unusable.
    #[error("{0}")]
    Usage(String),
    /// The client could not be built.
    #[error("invalid client configuration")]
    Config(#[source] TlsConfigError),
}

fn server_says(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() { String::new() } else { format!(": {body}") }
}

fn pin_detail(source: &(dyn std::error::Error + 'static)) -> String {
    crate::tls::find_pin_mismatch(source).map_or_else(String::new, |m| format!(": {m}"))
}

impl Error {
    /// How a retry layer should treat this error.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Self::Status { status, .. } => match status.as_u16() {
                409 | 460 | 417 => RetryClass::Resync,
                408 | 423 | 429 => RetryClass::Transient,
                // Not implemented, version not supported: asking again will not change the answer.
                501 | 505 => RetryClass::Fatal,
                s if s >= 500 => RetryClass::Transient,
                _ => RetryClass::Fatal,
            },
            Self::Connect { .. } | Self::Timeout { .. } | Self::Http { .. } => RetryClass::Transient,
            // A server that accepted a body but kept none of it may be overloaded; count it against the budget.
            Self::Protocol { source: tus_proto::Error::NoProgress { .. }, .. } => RetryClass::Transient,
            Self::Protocol { .. } | Self::Tls { .. } | Self::Source(_) | Self::Usage(_) | Self::Config(_) => {
                RetryClass::Fatal
            }
        }
    }

    /// The HTTP status, if the server answered with an error status.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// How long the server asked to wait before trying again (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether a timeout expired (stall or connect).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. })
    }

    /// Whether no connection could be made.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Tls { .. })
    }

    /// Whether the TLS handshake failed.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. })
    }

    /// Whether the server broke the protocol.
    pub fn is_protocol(&self) -> bool {
        matches!(self, Self::Protocol { .. })
    }

    /// The protocol error behind [`Error::Protocol`].
    pub fn protocol_error(&self) -> Option<&tus_proto::Error> {
        match self {
            Self::Protocol { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The certificate pin mismatch behind a TLS failure, naming the expected and presented fingerprints.
    pub fn pin_mismatch(&self) -> Option<&PinMismatch> {
        match self {
            Self::Tls { source, .. } => crate::tls::find_pin_mismatch(source.as_ref()),
            _ => None,
        }
    }

    /// The error for a proto-level failure of a request that got `response`.
    pub(crate) fn from_proto(e: tus_proto::Error, request: RequestKind, url: &Url, response: &crate::Response) -> Self {
        match e {
            tus_proto::Error::Status { request, status } => Self::Status {
                request,
                url: Redacted::new(url),
                status,
                body: response.body_text(),
                retry_after: response.retry_after(),
            },
            source => Self::Protocol { request, url: Redacted::new(url), source },
        }
    }
}

/// A URL printed without its query string and fragment, and without a password, since those may carry
/// secrets.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Redacted(Box<str>);

impl Redacted {
    /// Wraps a URL for display.
    pub fn new(url: &Url) -> Self {
        // Assembled as text: `Url`'s setters would percent-encode the `…` placeholder.
        let mut url = url.clone();
        let query = url.query().is_some();
        url.set_query(None);
        url.set_fragment(None);
        let mut text = url.to_string();
        if url.password().is_some() {
            let _ = url.set_password(None);
            let user = url.username();
            let scheme = url.scheme();
            let rest = &text[text.find('@').map_or(0, |at| at + 1)..];
            text = format!("{scheme}://{user}:…@{rest}");
        }
        if query {
            text.push_str("?…");
        }
        Self(text.into())
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
