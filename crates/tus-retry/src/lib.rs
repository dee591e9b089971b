//! Resumable tus uploads that survive failures: aiotus's `upload`, `upload_multiple` and `metadata`,
//! done right.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let source = tus_retry::Source::file("video.mp4")?;
//! let url = tus_retry::upload("http://127.0.0.1:1080/files/", source, tus_retry::Metadata::new()).await?;
//! println!("uploaded to {url}");
//! # Ok(()) }
//! ```
//!
//! What it does that aiotus does not:
//! - the retry budget starts again whenever the server's offset advances, so many short outages over a
//!   long upload do not add up;
//! - 409, 423, 5xx, timeouts and broken connections are retried (after a HEAD, from the server's
//!   offset, never from a local guess); other 4xx are not, unless a [`RetryConfiguration::on_error`]
//!   hook says so; `Retry-After` is respected; delays are jittered;
//! - an upload that vanished (404 or 410 on resume) is created anew once, if the source can be re-read;
//! - a 413 halves the chunk size instead of ending the upload (rustus's 256 KiB body limit, proxies);
//! - sources of unknown length (stdin) use creation-defer-length;
//! - [`Uploader::upload_parallel`] splits one file into parts joined by concatenation;
//! - resume across process restarts through an [`UploadStore`] ([`FileStore`]);
//! - checksums per chunk, progress events, cancellation with optional termination, `tracing` spans.
//!
//! Use the free functions for the defaults and [`Uploader`] for everything else.

#![warn(missing_docs)]

mod config;
mod error;
mod progress;
mod store;
mod uploader;

pub use config::{RetryConfiguration, RetryDecision, RetryHook, Sleeper, TokioSleeper};
pub use error::Error;
pub use progress::{Progress, ProgressCallback};
pub use store::{FileStore, MemoryStore, StoredUpload, UploadStore};
pub use uploader::{Checksum, Uploader};

pub use tokio_util::sync::CancellationToken;
pub use tus_client::{self, Client, Source};
pub use tus_proto::{self, ChecksumAlgorithm, Metadata};
pub use url::{self, Url};

/// Uploads `source` to `endpoint` with the default client and settings; returns the upload URL.
///
/// # Errors
///
/// As [`Uploader::upload`], and [`Error::Usage`] for an endpoint that is not a URL.
pub async fn upload(endpoint: &str, source: Source, metadata: Metadata) -> Result<Url, Error> {
    let endpoint = parse(endpoint)?;
    default_uploader()?.upload(&endpoint, source, metadata).await
}

/// Uploads each source as a partial upload, three at a time, and joins them with concatenation; returns
/// the final upload's URL.
///
/// # Errors
///
/// As [`Uploader::upload_multiple`].
pub async fn upload_multiple(endpoint: &str, sources: Vec<Source>, metadata: Metadata) -> Result<Url, Error> {
    let endpoint = parse(endpoint)?;
    default_uploader()?.upload_multiple(&endpoint, sources, metadata).await
}

/// Reads an upload's metadata, with retries.
///
/// # Errors
///
/// As [`Uploader::metadata`].
pub async fn metadata(upload: &str) -> Result<Metadata, Error> {
    let upload = parse(upload)?;
    default_uploader()?.metadata(&upload).await
}

fn parse(url: &str) -> Result<Url, Error> {
    Url::parse(url).map_err(|e| Error::Usage(format!("invalid URL {url:?}: {e}")))
}

fn default_uploader() -> Result<Uploader, Error> {
    let client = Client::new().map_err(|e| Error::fatal(e, None))?;
    Ok(Uploader::new(client))
}
