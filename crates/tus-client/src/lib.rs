//! A tus resumable-upload client on raw hyper, with pluggable rustls TLS and certificate pinning.
//!
//! [`Client`] holds a connection pool, default headers, timeouts and TLS settings. Its operations are
//! aiotus's `core` and `creation` functions plus the extensions aiotus lacks:
//!
//! | operation | request | |
//! |---|---|---|
//! | [`Client::configuration`] | OPTIONS | versions, max size, extensions, checksum algorithms |
//! | [`Client::create`] | POST | length or deferred length, metadata, partial concatenation |
//! | [`Client::create_with_upload`] | POST with data | creation-with-upload |
//! | [`Client::info`], [`Client::offset`], [`Client::metadata`] | HEAD | |
//! | [`Client::patch`], [`Client::upload_buffer`] | PATCH | a byte range of a [`Source`], with an optional checksum |
//! | [`Client::terminate`] | DELETE | termination |
//! | [`Client::concatenate`] | POST | the final upload of a concatenation |
//! | [`Client::send`], [`Client::step`] | any | drive a [`tus_proto::Upload`] yourself |
//!
//! The client holds no protocol state: [`tus_proto`] plans each request and interprets each answer.
//! None of these operations retries; `tus-retry` does.
//!
//! # Memory
//!
//! Bodies stream from the [`Source`] piece by piece: a file with positioned reads, memory as zero-copy
//! slices, a reader keeping only the bytes the server has not confirmed. One upload holds about one
//! chunk at most, whatever the file size.
//!
//! # TLS
//!
//! rustls with the ring provider. By default the Mozilla roots are trusted (feature `webpki-roots`);
//! the builder adds OS roots, extra CAs, a client certificate, SHA-256 pinning
//! ([`ClientBuilder::tls_pin_sha256`]), no verification
//! ([`ClientBuilder::danger_accept_invalid_certs`]) or a preconfigured `rustls::ClientConfig`.
//!
//! # Features
//!
//! - `webpki-roots` (default): trust the Mozilla root store compiled in.
//! - `native-roots`: trust the operating system's store.

#![warn(missing_docs)]

mod body;
mod checksum;
mod client;
mod connect;
mod error;
mod ops;
mod source;
pub mod tls;

pub use body::SentCallback;
pub use checksum::is_supported as checksum_supported;
pub use client::{Client, ClientBuilder, RequestHook, Response};
pub use error::{Error, Redacted, RetryClass};
pub use ops::Step;
pub use source::{Source, SourceError};
pub use tls::{Fingerprint, PinMismatch};

pub use rustls;
pub use tus_proto;
pub use url;
