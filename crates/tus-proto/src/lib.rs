//! The tus resumable-upload protocol (tus 1.0.0 and every extension), as pure types and a state machine.
//!
//! This crate does no I/O, reads no clock and spawns nothing. It turns what a client wants into
//! [`RequestPlan`]s (method, URL, headers, and the body named as a byte range of your source) and turns
//! response heads back into typed results. Use it under any HTTP stack; `tus-client` is the one this
//! workspace builds on hyper.
//!
//! - [`header`]: every tus header as a type with `parse` and `encode`.
//! - [`Metadata`]: `Upload-Metadata`, an ordered map from string keys to optional bytes.
//! - Single operations: [`options`] and [`ServerConfiguration::from_response`]; [`Create`] and
//!   [`Created::from_response`]; [`head`] and [`UploadInfo::from_response`]; [`Patch`] and
//!   [`Patched::from_response`]; [`delete`] and [`check_delete`]; [`concatenate`].
//! - [`Upload`]: a whole upload as a state machine that never plans bytes at an offset the server has
//!   not confirmed, and is only complete when the server's offset equals the length.
//!
//! Servers differ; the interpreters follow what real servers do (tusd, @tus/server, rustus): any 2xx is
//! success where the spec names 200, 201 or 204; `Location` is resolved by RFC 3986; an unreadable
//! `Upload-Expires` is "unknown"; a missing `Upload-Offset` is an error, never 0.
//!
//! # Example: one PATCH with your own HTTP stack
//!
//! ```
//! use tus_proto::{Patch, Patched, ResponseHead};
//!
//! let url = url::Url::parse("https://tus.example/files/abc")?;
//! let plan = Patch::new(0, 5).plan(&url);
//! // Send `plan.method` to `plan.url` with `plan.headers` and bytes 0..5 of the file as the body...
//! let mut headers = http::HeaderMap::new();
//! headers.insert("upload-offset", "5".parse()?);
//! let answer = ResponseHead::new(http::StatusCode::NO_CONTENT, headers);
//! assert_eq!(Patched::from_response(&plan, &answer)?.offset, 5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod config;
mod error;
pub mod header;
mod metadata;
mod request;
mod upload;

pub use config::ServerConfiguration;
pub use error::{Error, RequestKind, status_text};
pub use header::{ChecksumAlgorithm, Extension, UploadConcat};
pub use metadata::{Metadata, MetadataError};
pub use request::{
    Body, ChecksumPlacement, ChecksumRequest, Create, Created, Length, Patch, Patched, RequestPlan, ResponseHead,
    UploadInfo, check_delete, concatenate, delete, head, options, resolve_location,
};
pub use upload::{DEFAULT_CHUNK_SIZE, Event, State, Upload, UploadOptions};

/// Re-exported so callers use the same `http` and `url` versions as this crate.
pub use http;
pub use url;
