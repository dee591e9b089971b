use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tus_client::{Client, Error as ClientError, Redacted, Source, Step};
use tus_proto::{
    ChecksumAlgorithm, ChecksumPlacement, ChecksumRequest, Event, Extension, Metadata, RequestKind,
    ServerConfiguration, State, Upload, UploadInfo, UploadOptions,
};
use url::Url;

use crate::config::{Decision, RetryConfiguration};
use crate::error::Error;
use crate::progress::{ProgressCallback, Tracker};
use crate::store::{StoredUpload, UploadStore};

/// Which checksum to put on every PATCH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Checksum {
    /// None (the default).
    #[default]
    None,
    /// The strongest algorithm both sides support, if the server offers the `checksum` extension;
    /// none otherwise.
    Auto,
    /// This algorithm; an error before any data is sent if the server does not offer it.
    Algorithm(ChecksumAlgorithm),
}

/// Uploads with retries, resume and parallel parts: aiotus's `upload`, `upload_multiple` and `metadata`
/// with every setting. Cheap to clone; clones share the client.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tus_retry::{Checksum, Client, Metadata, RetryConfiguration, Source, Uploader};
///
/// let uploader = Uploader::new(Client::new()?)
///     .chunk_size(8 * 1024 * 1024)
///     .checksum(Checksum::Auto)
///     .retry(RetryConfiguration::default().retry_attempts(20));
/// let endpoint = url::Url::parse("https://tus.example/files/")?;
/// let url = uploader.upload(&endpoint, Source::file("video.mp4")?, Metadata::new()).await?;
/// println!("{url}");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Uploader {
    client: Client,
    retry: RetryConfiguration,
    chunk_size: u64,
    min_chunk_size: u64,
    creation_with_upload: bool,
    checksum: Checksum,
    store: Option<Arc<dyn UploadStore>>,
    resume_key: Option<String>,
    progress: Option<ProgressCallback>,
    cancel: Option<CancellationToken>,
    terminate_on_cancel: bool,
    parallel_uploads: usize,
    recreate_if_gone: bool,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("client", &self.client)
            .field("retry", &self.retry)
            .field("chunk_size", &self.chunk_size)
            .field("min_chunk_size", &self.min_chunk_size)
            .field("creation_with_upload", &self.creation_with_upload)
            .field("checksum", &self.checksum)
            .field("store", &self.store)
            .field("parallel_uploads", &self.parallel_uploads)
            .field("recreate_if_gone", &self.recreate_if_gone)
            .finish_non_exhaustive()
    }
}

/// Why a retry loop stops.
enum Stop {
    /// The cancellation token fired while waiting.
    Cancelled,
    /// The error is final.
    Failed(Error),
}

/// What one upload loop works with.
struct Part<'a> {
    endpoint: &'a Url,
    source: Source,
    options: UploadOptions,
    key: Option<String>,
    keep_entry: bool,
    tracker: &'a Tracker,
}

impl Uploader {
    /// An uploader on `client`, with the defaults: 4 MiB chunks, [`RetryConfiguration::default`], no
    /// checksum, no resume store, 3 parallel uploads in [`Uploader::upload_multiple`], and an upload that
    /// vanished from the server created again once.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            retry: RetryConfiguration::default(),
            chunk_size: tus_proto::DEFAULT_CHUNK_SIZE,
            min_chunk_size: 16 * 1024,
            creation_with_upload: false,
            checksum: Checksum::None,
            store: None,
            resume_key: None,
            progress: None,
            cancel: None,
            terminate_on_cancel: false,
            parallel_uploads: 3,
            recreate_if_gone: true,
        }
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sets the retry configuration.
    #[must_use]
    pub fn retry(mut self, retry: RetryConfiguration) -> Self {
        self.retry = retry;
        self
    }

    /// Bytes per PATCH. Default 4 MiB. A 413 halves it for the rest of the upload, down to
    /// [`Uploader::min_chunk_size`].
    #[must_use]
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// The floor for halving the chunk size after a 413. Default 16 KiB.
    #[must_use]
    pub fn min_chunk_size(mut self, bytes: u64) -> Self {
        self.min_chunk_size = bytes.max(1);
        self
    }

    /// Sends the first chunk with the creation POST, when the server offers creation-with-upload.
    #[must_use]
    pub fn creation_with_upload(mut self, on: bool) -> Self {
        self.creation_with_upload = on;
        self
    }

    /// Checksums every PATCH.
    #[must_use]
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
        self
    }

    /// Remembers uploads in `store`, so an interrupted upload of the same source is resumed, even by
    /// another process.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn UploadStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key under which the next upload is stored, instead of the fingerprint of its file (path,
    /// size, modification time and endpoint). Needed to resume memory or reader sources.
    #[must_use]
    pub fn resume_key(mut self, key: impl Into<String>) -> Self {
        self.resume_key = Some(key.into());
        self
    }

    /// Calls `callback` with the progress: bytes sent and bytes confirmed, summed over parallel parts.
    #[must_use]
    pub fn on_progress(mut self, callback: impl Fn(crate::Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Stops the upload when `token` is cancelled. Dropping the upload's future stops it too.
    #[must_use]
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// On cancellation, removes the upload from the server (DELETE, termination). Default off, which keeps
    /// it resumable.
    #[must_use]
    pub fn terminate_on_cancel(mut self, on: bool) -> Self {
        self.terminate_on_cancel = on;
        self
    }

    /// How many parts [`Uploader::upload_multiple`] sends at once. Default 3, as aiotus.
    #[must_use]
    pub fn parallel_uploads(mut self, n: usize) -> Self {
        self.parallel_uploads = n.max(1);
        self
    }

    /// Whether an upload that vanished (404 or 410 when resuming, or a PATCH answered 404 or 410 and a
    /// HEAD confirming it) is created anew, once, when its source can be read again from the start.
    /// Default on.
    #[must_use]
    pub fn recreate_if_gone(mut self, on: bool) -> Self {
        self.recreate_if_gone = on;
        self
    }

    /// Creates an upload at `endpoint` and sends `source`, retrying failures and resuming from the
    /// server's offset. Returns the upload URL once the server holds every byte.
    ///
    /// A source of unknown length (a reader) is uploaded with creation-defer-length.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for bad metadata (before anything is sent); [`Error::Unsupported`] when the server
    /// lacks an extension the settings need; [`Error::Exhausted`], [`Error::Fatal`], [`Error::Cancelled`].
    pub async fn upload(&self, endpoint: &Url, source: Source, metadata: Metadata) -> Result<Url, Error> {
        let span = tracing::info_span!("tus_upload", endpoint = %Redacted::new(endpoint), length = ?source.len());
        async {
            metadata.validate().map_err(|e| Error::Usage(format!("invalid metadata: {e}")))?;
            let tracker = Tracker::new(source.len(), self.progress.clone());
            let config = self.discover(endpoint, &source).await?;
            let options = self.options(endpoint, config.as_ref(), metadata, false)?;
            let key = self.key(endpoint, &source);
            let part = Part { endpoint, source, options, key, keep_entry: false, tracker: &tracker };
            self.drive(part).await
        }
        .instrument(span)
        .await
    }

    /// Splits `source` into `parts` byte ranges, uploads them at once as partial uploads, and joins them
    /// with concatenation into a final upload that carries `metadata` (tus-js-client's
    /// `parallelUploads`). Returns the final upload's URL.
    ///
    /// # Errors
    ///
    /// As [`Uploader::upload`]; [`Error::Unsupported`] (before any data) when the server lacks
    /// `concatenation`; [`Error::Usage`] for a reader.
    pub async fn upload_parallel(
        &self,
        endpoint: &Url,
        source: Source,
        parts: usize,
        metadata: Metadata,
    ) -> Result<Url, Error> {
        let len = match source.len() {
            Some(len) if source.is_seekable() => len,
            _ => return Err(Error::Usage("a parallel upload needs a file or memory source".into())),
        };
        let parts = (parts as u64).min(len).max(1);
        if parts == 1 {
            return self.upload(endpoint, source, metadata).await;
        }
        let bounds: Vec<(u64, u64)> = (0..parts).map(|i| (len * i / parts, len * (i + 1) / parts)).collect();
        let sources = bounds
            .iter()
            .map(|&(a, b)| source.slice(a..b).map_err(|e| Error::Usage(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let base_key = self.key(endpoint, &source);
        let keys = bounds
            .iter()
            .enumerate()
            .map(|(i, (a, b))| base_key.as_ref().map(|k| format!("{k}#part{i}/{parts}@{a}-{b}")))
            .collect();
        self.concatenated(endpoint, sources, keys, metadata, usize::MAX).await
    }

    /// Uploads each source as a partial upload, at most [`Uploader::parallel_uploads`] at once, and
    /// joins them in order with concatenation into a final upload that carries `metadata` (aiotus's
    /// `upload_multiple`). Returns the final upload's URL.
    ///
    /// # Errors
    ///
    /// As [`Uploader::upload`]; [`Error::Unsupported`] (before any data) when the server lacks
    /// `concatenation`.
    pub async fn upload_multiple(
        &self,
        endpoint: &Url,
        sources: Vec<Source>,
        metadata: Metadata,
    ) -> Result<Url, Error> {
        if sources.is_empty() {
            return Err(Error::Usage("upload_multiple needs at least one source".into()));
        }
        // The index is part of the key: with a `resume_key` (or the same file twice) every part would
        // otherwise share one entry and resume one another's upload.
        let n = sources.len();
        let keys = sources
            .iter()
            .enumerate()
            .map(|(i, s)| self.key(endpoint, s).map(|k| format!("{k}#multi{i}/{n}")))
            .collect();
        self.concatenated(endpoint, sources, keys, metadata, self.parallel_uploads).await
    }

    async fn concatenated(
        &self,
        endpoint: &Url,
        sources: Vec<Source>,
        keys: Vec<Option<String>>,
        metadata: Metadata,
        at_once: usize,
    ) -> Result<Url, Error> {
        let span = tracing::info_span!("tus_concatenation", endpoint = %Redacted::new(endpoint), parts = sources.len());
        async {
            metadata.validate().map_err(|e| Error::Usage(format!("invalid metadata: {e}")))?;
            let config = self.configuration(endpoint).await?;
            if !config.supports(&Extension::Concatenation) {
                return Err(Error::Unsupported {
                    endpoint: Redacted::new(endpoint),
                    extension: "concatenation",
                    needed_for: "to upload parts in parallel and join them",
                });
            }
            let total = sources.iter().map(Source::len).sum::<Option<u64>>();
            let tracker = Tracker::new(total, self.progress.clone());
            let options = self.options(endpoint, Some(&config), Metadata::new(), true)?;
            let semaphore = Arc::new(tokio::sync::Semaphore::new(at_once.min(sources.len()).max(1)));
            let mut tasks = tokio::task::JoinSet::new();
            for (index, (source, key)) in sources.into_iter().zip(keys.iter().cloned()).enumerate() {
                let me = self.clone();
                let endpoint = endpoint.clone();
                let options = options.clone();
                let tracker = tracker.clone();
                let semaphore = Arc::clone(&semaphore);
                tasks.spawn(
                    async move {
                        let _permit = semaphore.acquire().await;
                        let part =
                            Part { endpoint: &endpoint, source, options, key, keep_entry: true, tracker: &tracker };
                        (index, me.drive(part).await)
                    }
                    .instrument(tracing::info_span!("part", index)),
                );
            }
            let mut urls: Vec<Option<Url>> = vec![None; keys.len()];
            while let Some(joined) = tasks.join_next().await {
                let (index, result) = joined.map_err(|e| Error::Usage(format!("a part's task failed: {e}")))?;
                match result {
                    Ok(url) => urls[index] = Some(url),
                    Err(e) if e.is_cancelled() => {
                        // The other parts watch the same token: let them stop on their own, so that each
                        // can terminate its upload (aborting them could cut their DELETE short). Report
                        // a part the server still holds, if any.
                        let mut reported = e;
                        while let Some(joined) = tasks.join_next().await {
                            if let Ok((_, Err(other))) = joined {
                                if reported.upload_url().is_none()
                                    && other.is_cancelled()
                                    && other.upload_url().is_some()
                                {
                                    reported = other;
                                }
                            }
                        }
                        return Err(reported);
                    }
                    Err(e) => {
                        tracing::warn!(index, error = %e, "part failed; cancelling the others");
                        tasks.abort_all();
                        return Err(e);
                    }
                }
            }
            let urls: Vec<Url> = urls.into_iter().flatten().collect();
            let created = self.with_retry(None, || self.client.concatenate(endpoint, &urls, &metadata)).await?;
            let final_url = created.url;
            let info = self.with_retry(Some(&final_url), || self.client.info(&final_url)).await?;
            if let Some(expected) = total {
                if !info.is_complete() || info.offset != expected {
                    return Err(Error::Incomplete {
                        offset: info.offset,
                        length: info.length,
                        expected,
                        upload_url: final_url,
                    });
                }
            }
            for key in &keys {
                self.forget(key.as_ref())?;
            }
            Ok(final_url)
        }
        .instrument(span)
        .await
    }

    /// Reads an upload's metadata, with retries (aiotus's `metadata`). A 404 or 410 is not retried.
    ///
    /// # Errors
    ///
    /// [`Error::Exhausted`], [`Error::Fatal`], [`Error::Cancelled`].
    pub async fn metadata(&self, upload: &Url) -> Result<Metadata, Error> {
        Ok(self.info(upload).await?.metadata.unwrap_or_default())
    }

    /// Reads an upload's offset, length, metadata and expiry, with retries.
    ///
    /// # Errors
    ///
    /// As [`Uploader::metadata`].
    pub async fn info(&self, upload: &Url) -> Result<UploadInfo, Error> {
        self.with_retry(Some(upload), || self.client.info(upload)).await
    }

    /// Reads the server's configuration (OPTIONS), with retries.
    ///
    /// # Errors
    ///
    /// As [`Uploader::metadata`].
    pub async fn configuration(&self, endpoint: &Url) -> Result<ServerConfiguration, Error> {
        self.with_retry(None, || self.client.configuration(endpoint)).await
    }

    /// Removes an upload from the server (DELETE), with retries.
    ///
    /// # Errors
    ///
    /// As [`Uploader::metadata`].
    pub async fn terminate(&self, upload: &Url) -> Result<(), Error> {
        self.with_retry(Some(upload), || self.client.terminate(upload)).await
    }

    /// Asks the server what it supports, when the settings depend on it.
    async fn discover(&self, endpoint: &Url, source: &Source) -> Result<Option<ServerConfiguration>, Error> {
        let needed = source.len().is_none() || self.creation_with_upload || self.checksum != Checksum::None;
        if !needed {
            return Ok(None);
        }
        let config = self.configuration(endpoint).await?;
        if source.len().is_none() && !config.supports(&Extension::CreationDeferLength) {
            return Err(Error::Unsupported {
                endpoint: Redacted::new(endpoint),
                extension: "creation-defer-length",
                needed_for: "to upload a source of unknown length",
            });
        }
        Ok(Some(config))
    }

    fn options(
        &self,
        endpoint: &Url,
        config: Option<&ServerConfiguration>,
        metadata: Metadata,
        partial: bool,
    ) -> Result<UploadOptions, Error> {
        let supports = |e: &Extension| config.is_some_and(|c| c.supports(e));
        let mut options = UploadOptions::default()
            .chunk_size(self.chunk_size)
            .metadata(metadata)
            .partial(partial)
            .creation_with_upload(self.creation_with_upload && supports(&Extension::CreationWithUpload));
        let algorithm = match &self.checksum {
            Checksum::None => None,
            Checksum::Auto => config.and_then(ServerConfiguration::strongest_checksum),
            Checksum::Algorithm(alg) => {
                let offered = config.is_some_and(|c| c.checksum_algorithms.contains(alg));
                if !supports(&Extension::Checksum) || !offered {
                    return Err(Error::Unsupported {
                        endpoint: Redacted::new(endpoint),
                        extension: "checksum",
                        needed_for: "with the requested checksum algorithm",
                    });
                }
                if !tus_client::checksum_supported(alg) {
                    return Err(Error::Usage(format!("this client cannot compute {alg} checksums")));
                }
                Some(alg.clone())
            }
        };
        if let Some(algorithm) = algorithm {
            options.checksum = Some(ChecksumRequest { algorithm, placement: ChecksumPlacement::Header });
        }
        Ok(options)
    }

    fn key(&self, endpoint: &Url, source: &Source) -> Option<String> {
        self.store.as_ref()?;
        if let Some(key) = &self.resume_key {
            return Some(format!("key:{key}@{endpoint}"));
        }
        let path = source.path()?.canonicalize().ok()?;
        let meta = source.file_metadata()?.ok()?;
        let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
        Some(format!("file:{}:{}:{mtime}@{endpoint}", path.display(), meta.len()))
    }

    /// Removes `key` from the store, when there are both.
    fn forget(&self, key: Option<&String>) -> Result<(), Error> {
        match (&self.store, key) {
            (Some(store), Some(key)) => store.remove(key).map_err(Error::Store),
            _ => Ok(()),
        }
    }

    fn lookup(&self, key: Option<&String>, endpoint: &Url, source: &Source) -> Result<Option<Url>, Error> {
        let (Some(store), Some(key)) = (&self.store, key) else {
            return Ok(None);
        };
        let entry = store.get(key).map_err(Error::Store)?;
        Ok(entry.filter(|e| e.endpoint == *endpoint && e.length == source.len()).map(|e| e.url))
    }

    async fn drive(&self, part: Part<'_>) -> Result<Url, Error> {
        let Part { endpoint, source, options, key, keep_entry, tracker } = part;
        let usage = |e: tus_proto::Error| Error::Usage(e.to_string());
        let mut upload = match self.lookup(key.as_ref(), endpoint, &source)? {
            Some(url) => {
                tracing::info!(url = %Redacted::new(&url), "resuming an earlier upload");
                let mut upload = Upload::resume(url, source.len(), options).map_err(usage)?;
                upload.set_endpoint(endpoint.clone());
                upload
            }
            None => Upload::create(endpoint.clone(), source.len(), options).map_err(usage)?,
        };
        let sent = tracker.sent_callback();
        let mut failures = 0u32;
        let mut high_water = 0u64;
        let mut reported = 0u64;
        let mut recreated = false;
        let mut probed_gone = false;
        while !upload.is_complete() {
            let Some(step) = self.cancellable(self.client.step(&mut upload, &source, sent.clone())).await else {
                upload.handle_failure();
                return Err(self.cancelled(upload.url(), key.as_ref()).await);
            };
            let created = self.drain_events(&mut upload, key.as_ref(), endpoint, &source, tracker, &mut reported)?;
            let error = match step {
                Ok(Step::Sent(_)) => {
                    if upload.offset() > high_water || created {
                        high_water = upload.offset();
                        failures = 0; // The budget resets whenever the upload makes progress.
                    }
                    continue;
                }
                Ok(_) => break, // Idle: nothing left to send.
                Err(e) => e,
            };
            let url = upload.url().cloned();
            let can_recreate =
                self.recreate_if_gone && source.is_seekable() && !recreated && upload.endpoint().is_some();
            if upload.state() == State::Gone {
                if can_recreate {
                    tracing::warn!(error = %error, "the upload is gone from the server; creating it again");
                    recreated = true;
                    self.forget(key.as_ref())?;
                    upload.restart().map_err(usage)?;
                    tracker.confirm(reported, 0);
                    reported = 0;
                    high_water = 0;
                    failures = 0;
                    continue;
                }
                return Err(Error::fatal(error, url));
            }
            if can_recreate && !probed_gone && vanished_on_patch(&error) && upload.state() == State::Syncing {
                // A PATCH answered 404 or 410: the upload may have expired or been cleaned up. The HEAD
                // that follows tells: gone (then it is created anew, above) or an offset to go on from.
                tracing::warn!(error = %error, "the upload may be gone from the server; checking");
                probed_gone = true;
                continue;
            }
            if error.status() == Some(http::StatusCode::PAYLOAD_TOO_LARGE) && self.shrink(&mut upload) {
                continue;
            }
            match self.back_off(error, &mut failures, url.as_ref()).await {
                Ok(()) => {}
                Err(Stop::Cancelled) => return Err(self.cancelled(url.as_ref(), key.as_ref()).await),
                Err(Stop::Failed(e)) => return Err(e),
            }
        }
        let Some(url) = upload.url().cloned().filter(|_| upload.is_complete()) else {
            return Err(Error::Usage(format!("the upload stopped in state {:?}", upload.state())));
        };
        if !keep_entry {
            self.forget(key.as_ref())?;
        }
        tracing::info!(url = %Redacted::new(&url), "upload complete");
        Ok(url)
    }

    /// Halves the chunk size after a 413, or turns creation-with-upload off; false at the floor, and for a
    /// creation without data (the upload is larger than the server's `Tus-Max-Size`: no chunk size helps).
    fn shrink(&self, upload: &mut Upload) -> bool {
        if upload.state() == State::Creating {
            if !upload.options().creation_with_upload {
                return false;
            }
            tracing::warn!("the server refused data in the creation request (413); sending it by PATCH");
            upload.set_creation_with_upload(false);
            return true;
        }
        let half = upload.chunk_size() / 2;
        if half < self.min_chunk_size {
            return false;
        }
        tracing::warn!(chunk_size = half, "the server refused the chunk size (413); halving it");
        upload.set_chunk_size(half).is_ok()
    }

    fn drain_events(
        &self,
        upload: &mut Upload,
        key: Option<&String>,
        endpoint: &Url,
        source: &Source,
        tracker: &Tracker,
        reported: &mut u64,
    ) -> Result<bool, Error> {
        let mut created = false;
        while let Some(event) = upload.poll_event() {
            match event {
                Event::Created { url } => {
                    created = true;
                    tracing::info!(url = %Redacted::new(&url), "upload created");
                    if endpoint.scheme() == "https" && url.scheme() == "http" {
                        // protocol.md pitfall 2: a server behind a TLS proxy that does not know it.
                        tracing::warn!(url = %Redacted::new(&url), "the server gave an http:// upload URL for an https:// endpoint; the data will not be encrypted");
                    }
                    if let (Some(store), Some(key)) = (&self.store, key) {
                        let entry = StoredUpload { url, endpoint: endpoint.clone(), length: source.len() };
                        store.put(key, &entry).map_err(Error::Store)?;
                    }
                }
                Event::Confirmed { offset } | Event::Resynced { offset, .. } => {
                    tracker.confirm(*reported, offset);
                    *reported = offset;
                }
                Event::Expires(at) => tracing::debug!(expires = %httpdate_fmt(at), "upload expiry"),
                Event::Completed => tracing::debug!("server holds every byte"),
                Event::Gone => tracing::warn!("upload gone from the server"),
                _ => {}
            }
        }
        if let (Some(length), None) = (upload.length(), source.len()) {
            tracker.set_total(length);
        }
        Ok(created)
    }

    async fn with_retry<T, F, Fut>(&self, upload: Option<&Url>, mut op: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut failures = 0;
        loop {
            let Some(result) = self.cancellable(op()).await else {
                return Err(Error::Cancelled { upload_url: upload.cloned() });
            };
            let error = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match self.back_off(error, &mut failures, upload).await {
                Ok(()) => {}
                Err(Stop::Cancelled) => return Err(Error::Cancelled { upload_url: upload.cloned() }),
                Err(Stop::Failed(e)) => return Err(e),
            }
        }
    }

    /// After a failure (`*failures` before it): when a retry is due, counts the failure and waits;
    /// otherwise says why the operation stops.
    async fn back_off(&self, error: ClientError, failures: &mut u32, url: Option<&Url>) -> Result<(), Stop> {
        match self.retry.decide(&error, *failures + 1) {
            Decision::Retry(delay) => {
                *failures += 1;
                tracing::warn!(
                    error = %error,
                    attempt = *failures,
                    of = self.retry.attempts(),
                    delay_ms = delay.as_millis() as u64,
                    "request failed; retrying"
                );
                if !delay.is_zero() && self.cancellable(self.retry.sleeper.sleep(delay)).await.is_none() {
                    return Err(Stop::Cancelled);
                }
                Ok(())
            }
            Decision::Exhausted => Err(Stop::Failed(Error::exhausted(*failures + 1, error, url.cloned()))),
            Decision::Fatal => Err(Stop::Failed(Error::fatal(error, url.cloned()))),
        }
    }

    async fn cancellable<F: Future>(&self, f: F) -> Option<F::Output> {
        match &self.cancel {
            None => Some(f.await),
            Some(token) => tokio::select! {
                biased;
                () = token.cancelled() => None,
                out = f => Some(out),
            },
        }
    }

    async fn cancelled(&self, url: Option<&Url>, key: Option<&String>) -> Error {
        let Some(url) = url else {
            return Error::Cancelled { upload_url: None };
        };
        if self.terminate_on_cancel {
            match self.client.terminate(url).await {
                Ok(()) => {
                    tracing::info!(url = %Redacted::new(url), "cancelled; upload terminated");
                    // The entry would point at an upload that no longer exists.
                    if let Err(e) = self.forget(key) {
                        tracing::warn!(error = %e, "removing the terminated upload from the resume store failed");
                    }
                    return Error::Cancelled { upload_url: None };
                }
                Err(e) => tracing::warn!(error = %e, "cancelled; terminating the upload failed"),
            }
        }
        Error::Cancelled { upload_url: Some(url.clone()) }
    }
}

/// Whether a PATCH was answered 404 or 410: the upload may have vanished.
fn vanished_on_patch(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::Status { request: RequestKind::Patch, status, .. }
            if *status == http::StatusCode::NOT_FOUND || *status == http::StatusCode::GONE
    )
}

fn httpdate_fmt(at: std::time::SystemTime) -> String {
    use tus_proto::header::{TusHeader as _, UploadExpires};
    UploadExpires(Some(at)).encode().to_str().unwrap_or_default().to_owned()
}
