use std::fmt;

use http::StatusCode;

use crate::metadata::MetadataError;

/// Which request a response answered, for error messages and for the retry layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `OPTIONS` on the creation endpoint: server discovery.
    Options,
    /// `POST` on the creation endpoint (creation, deferred length, partial concatenation).
    Create,
    /// `POST` on the creation endpoint that also carries data (creation-with-upload).
    CreateWithUpload,
    /// `POST` of a final upload (concatenation).
    Concatenate,
    /// `HEAD` on an upload URL: offset, length, metadata.
    Head,
    /// `PATCH` on an upload URL: data at an offset.
    Patch,
    /// `DELETE` on an upload URL (termination).
    Delete,
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Options => "OPTIONS",
            Self::Create => "creation POST",
            Self::CreateWithUpload => "creation-with-upload POST",
            Self::Concatenate => "concatenation POST",
            Self::Head => "HEAD",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        })
    }
}

/// Everything that can go wrong between a tus client and a tus server, as seen by the protocol.
///
/// [`Error::Status`] means the server answered with an error status: the protocol was followed, the
/// operation was refused. Every other variant is a protocol violation (aiotus's `ProtocolError`), a
/// refusal of bad input from the caller, or a misuse of [`Upload`](crate::Upload). Messages say what
/// the server sent and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status that means the operation failed.
    #[error("{request} answered {}", status_text(*status))]
    Status {
        /// The request that was answered.
        request: RequestKind,
        /// The status the server sent.
        status: StatusCode,
    },
    /// The server answered with a success status that the protocol does not allow here.
    #[error("{request} answered {}, expected {expected}", status_text(*status))]
    UnexpectedStatus {
        /// The request that was answered.
        request: RequestKind,
        /// The status the server sent.
        status: StatusCode,
        /// What the protocol expects.
        expected: &'static str,
    },
    /// A header that the protocol requires in this response is missing.
    #[error("{request} response has no {header} header{hint}")]
    MissingHeader {
        /// The request that was answered.
        request: RequestKind,
        /// The missing header's name.
        header: &'static str,
        /// An extra explanation, empty or starting with a separator.
        hint: &'static str,
    },
    /// A header value could not be read.
    #[error("invalid {header} header {value:?}: {reason}")]
    InvalidHeader {
        /// The header's name.
        header: &'static str,
        /// The value as sent (lossily decoded if it was not UTF-8).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `Upload-Offset` the server sent lies outside what the protocol allows at this point.
    #[error("{request} answered Upload-Offset {offset}, expected {expected}")]
    OffsetOutOfRange {
        /// The request that was answered.
        request: RequestKind,
        /// The offset the server sent.
        offset: u64,
        /// The allowed values, as text (for example `1000..=2000`).
        expected: String,
    },
    /// The server's length for an upload differs from the one the client knows.
    #[error("server reports Upload-Length {server}, but the upload is {local} bytes long")]
    LengthMismatch {
        /// The length the server reported.
        server: u64,
        /// The length the client knows.
        local: u64,
    },
    /// The `Location` of a created upload could not be resolved to an http(s) URL.
    #[error("invalid Location {location:?}: {reason}")]
    InvalidLocation {
        /// The value as sent.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Metadata could not be encoded (bad input from the caller) or decoded (bad input from the server).
    #[error("metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// A PATCH with a body was answered with success but the server kept none of it. Legal once; a
    /// server that keeps doing it would loop a client forever, so it is reported for the retry budget.
    #[error("PATCH of {sent} bytes at offset {offset} was accepted, but the server kept none of them")]
    NoProgress {
        /// The offset, unchanged.
        offset: u64,
        /// The bytes sent.
        sent: u64,
    },
    /// The caller asked for something the protocol or the upload's state does not allow.
    #[error("invalid use: {0}")]
    Usage(&'static str),
    /// A length declared for a deferred upload contradicts what is already known.
    #[error("declared length {declared} contradicts {reason}")]
    InvalidLength {
        /// The length the caller declared.
        declared: u64,
        /// What it contradicts.
        reason: String,
    },
}

impl Error {
    /// The HTTP status of an [`Error::Status`] or [`Error::UnexpectedStatus`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } | Self::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the server broke the protocol (aiotus's `ProtocolError`), as opposed to refusing an
    /// operation with an error status or the caller misusing the API.
    pub fn is_protocol_violation(&self) -> bool {
        match self {
            Self::Status { .. } | Self::Usage(_) | Self::InvalidLength { .. } | Self::NoProgress { .. } => false,
            Self::Metadata(e) => e.is_decode(),
            _ => true,
        }
    }

    pub(crate) fn invalid_header(header: &'static str, value: &[u8], reason: &'static str) -> Self {
        Self::InvalidHeader { header, value: String::from_utf8_lossy(value).into_owned(), reason }
    }
}

/// A status with its reason phrase, including the ones tus defines (`460 Checksum Mismatch`).
pub fn status_text(status: StatusCode) -> String {
    let reason = match status.as_u16() {
        460 => Some("Checksum Mismatch"),
        _ => status.canonical_reason(),
    };
    match reason {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}
