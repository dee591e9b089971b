use url::Url;

use tus_client::Redacted;

/// Why an upload (or a metadata read) did not succeed.
///
/// As in hyper, `Display` prints only this level; the cause is in [`std::error::Error::source`] (print the
/// chain, as the `tus` CLI does, to see what the server answered).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Every attempt of the retry budget failed; `last` is the last failure.
    #[error("gave up after {attempts} attempt{}{}", if *attempts == 1 { "" } else { "s" }, at_url(upload_url.as_ref()))]
    Exhausted {
        /// How many attempts were made in the last budget.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<tus_client::Error>,
        /// The upload URL, if the upload was created (it can be resumed from there).
        upload_url: Option<Url>,
    },
    /// A failure that retrying cannot fix (a 4xx other than 409/423, a protocol violation, a TLS failure).
    #[error("cannot go on{}", at_url(upload_url.as_ref()))]
    Fatal {
        /// The failure.
        #[source]
        source: Box<tus_client::Error>,
        /// The upload URL, if the upload was created.
        upload_url: Option<Url>,
    },
    /// The server lacks an extension the operation needs; nothing was sent.
    #[error("the server at {endpoint} does not support the `{extension}` extension, needed {needed_for}")]
    Unsupported {
        /// The creation endpoint.
        endpoint: Redacted,
        /// The missing extension.
        extension: &'static str,
        /// What it was needed for.
        needed_for: &'static str,
    },
    /// The server reported success but does not hold the expected bytes (a final upload shorter than its
    /// parts, for example). Never reported as success.
    #[error(
        "the server holds {offset} bytes (length {length:?}) at {}, expected {expected}",
        Redacted::new(upload_url)
    )]
    Incomplete {
        /// The server's offset.
        offset: u64,
        /// The server's length.
        length: Option<u64>,
        /// What the client sent.
        expected: u64,
        /// The upload URL.
        upload_url: Url,
    },
    /// The upload was cancelled.
    #[error("cancelled{}", at_url(upload_url.as_ref()))]
    Cancelled {
        /// The upload URL, if the upload was created and not terminated.
        upload_url: Option<Url>,
    },
    /// The resume store failed.
    #[error("resume store: {0}")]
    Store(#[source] std::io::Error),
    /// The caller passed something unusable (bad metadata, a reader where a file is needed).
    #[error("{0}")]
    Usage(String),
}

fn at_url(url: Option<&Url>) -> String {
    url.map_or_else(String::new, |u| format!(" (upload {})", Redacted::new(u)))
}

impl Error {
    pub(crate) fn fatal(source: tus_client::Error, upload_url: Option<Url>) -> Self {
        Self::Fatal { source: Box::new(source), upload_url }
    }

    pub(crate) fn exhausted(attempts: u32, last: tus_client::Error, upload_url: Option<Url>) -> Self {
        Self::Exhausted { attempts, last: Box::new(last), upload_url }
    }

    /// The client error behind this one, if any.
    pub fn client_error(&self) -> Option<&tus_client::Error> {
        match self {
            Self::Exhausted { last, .. } => Some(last),
            Self::Fatal { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The upload URL, when the upload was created before the failure: it can be resumed from there.
    pub fn upload_url(&self) -> Option<&Url> {
        match self {
            Self::Exhausted { upload_url, .. } | Self::Fatal { upload_url, .. } | Self::Cancelled { upload_url } => {
                upload_url.as_ref()
            }
            Self::Incomplete { upload_url, .. } => Some(upload_url),
            _ => None,
        }
    }

    /// Whether the upload was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
}
