//! One function per tus operation, each a tus-proto plan sent and its answer interpreted.

use tus_proto::{
    ChecksumRequest, Create, Created, Metadata, Patch, Patched, RequestKind, RequestPlan, ResponseHead,
    ServerConfiguration, State, Upload, UploadInfo, UploadOptions,
};
use url::Url;

use crate::body::SentCallback;
use crate::client::Client;
use crate::error::Error;
use crate::source::{Source, SourceError};

/// What one [`Client::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// A request was sent and its answer handled.
    Sent(RequestKind),
    /// Nothing to send: the upload is complete or gone.
    Idle,
}

impl Client {
    async fn exchange<T>(
        &self,
        plan: &RequestPlan,
        source: Option<&Source>,
        interpret: impl FnOnce(&RequestPlan, &ResponseHead) -> Result<T, tus_proto::Error>,
    ) -> Result<T, Error> {
        let response = self.send(plan, source).await?;
        interpret(plan, &response.head).map_err(|e| Error::from_proto(e, plan.kind, &plan.url, &response))
    }

    /// OPTIONS: the server's versions, max size, extensions and checksum algorithms (aiotus's
    /// `core.configuration`).
    ///
    /// # Errors
    ///
    /// Transport errors; [`Error::Status`]; [`Error::Protocol`] when `Tus-Version` is missing or a value
    /// is malformed.
    pub async fn configuration(&self, endpoint: &Url) -> Result<ServerConfiguration, Error> {
        self.exchange(&tus_proto::options(endpoint), None, |_, r| ServerConfiguration::from_response(r)).await
    }

    /// POST: creates an upload (aiotus's `creation.create`) with a length or a deferred length, metadata,
    /// and optionally as a partial upload. The `Location` is resolved against `endpoint`.
    ///
    /// # Errors
    ///
    /// Transport errors; [`Error::Status`]; [`Error::Protocol`] for a missing or unusable `Location`;
    /// [`Error::Usage`] for metadata that cannot be encoded or a `create` that carries a body (use
    /// [`Client::create_with_upload`]).
    pub async fn create(&self, endpoint: &Url, create: &Create) -> Result<Created, Error> {
        let plan = create.plan(endpoint).map_err(|e| Error::Usage(e.to_string()))?;
        if !plan.body.is_empty() {
            return Err(Error::Usage("this creation carries a body; use create_with_upload".into()));
        }
        self.exchange(&plan, None, Created::from_response).await
    }

    /// POST with data (creation-with-upload): creates the upload and sends the first `len` bytes of
    /// `source` in the same request. [`Created::offset`] says how many the server kept.
    ///
    /// # Errors
    ///
    /// As [`Client::create`], and source errors.
    pub async fn create_with_upload(
        &self,
        endpoint: &Url,
        create: Create,
        source: &Source,
        len: u64,
    ) -> Result<Created, Error> {
        let plan = create.with_upload(0..len).plan(endpoint).map_err(|e| Error::Usage(e.to_string()))?;
        self.exchange(&plan, Some(source), Created::from_response).await
    }

    /// HEAD: offset, length, metadata, concatenation and expiry of an upload, together.
    ///
    /// # Errors
    ///
    /// Transport errors; [`Error::Status`] (404 or 410 when the upload is gone); [`Error::Protocol`] when
    /// `Upload-Offset` is missing (a HEAD answered as a GET) or a value is malformed.
    pub async fn info(&self, upload: &Url) -> Result<UploadInfo, Error> {
        self.exchange(&tus_proto::head(upload), None, |_, r| UploadInfo::from_response(r)).await
    }

    /// HEAD: the server's offset (aiotus's `core.offset`).
    ///
    /// # Errors
    ///
    /// As [`Client::info`].
    pub async fn offset(&self, upload: &Url) -> Result<u64, Error> {
        Ok(self.info(upload).await?.offset)
    }

    /// HEAD: the upload's metadata, empty when it has none (aiotus's `core.metadata`).
    ///
    /// # Errors
    ///
    /// As [`Client::info`], and [`Error::Protocol`] for metadata that cannot be decoded.
    pub async fn metadata(&self, upload: &Url) -> Result<Metadata, Error> {
        Ok(self.info(upload).await?.metadata.unwrap_or_default())
    }

    /// One PATCH: `len` bytes of `source` at `offset`, with an optional checksum.
    ///
    /// # Errors
    ///
    /// Transport errors; [`Error::Status`] (409 offset conflict, 423 locked, 460 or 417 checksum
    /// mismatch, 413 too large); [`Error::Protocol`] for an offset outside what was sent.
    pub async fn patch(
        &self,
        upload: &Url,
        source: &Source,
        offset: u64,
        len: u64,
        checksum: Option<ChecksumRequest>,
    ) -> Result<Patched, Error> {
        let mut patch = Patch::new(offset, len);
        if let Some(c) = checksum {
            patch = patch.checksum(c.algorithm, c.placement);
        }
        self.exchange(&patch.plan(upload), Some(source), Patched::from_response).await
    }

    /// Sends `source` to an existing upload from the server's offset to the end, in chunks (aiotus's
    /// `core.upload_buffer`): a HEAD first, then PATCHes, each from the offset the server confirmed, so a
    /// server that keeps only part of a chunk is handled. No retries: the first error is returned.
    /// Returns the final offset, which equals the length.
    ///
    /// # Errors
    ///
    /// The first error of any request; [`Error::Protocol`] when the server's length differs from the
    /// source's.
    pub async fn upload_buffer(&self, upload: &Url, source: &Source, options: &UploadOptions) -> Result<u64, Error> {
        let mut machine =
            Upload::resume(upload.clone(), source.len(), options.clone()).map_err(|e| Error::Usage(e.to_string()))?;
        let mut checked_end = false;
        while !machine.is_complete() {
            // A reader has no length of its own: before the chunk that completes the upload, make sure it
            // ends there, rather than leaving the rest unsent and reporting success.
            if let (None, Some(length), false) = (source.len(), machine.length(), checked_end) {
                if machine.state() == State::Uploading && length - machine.offset() <= machine.chunk_size() {
                    checked_end = true;
                    if source.available(length, 1).await.map_err(Error::Source)? > 0 {
                        return Err(Error::Source(std::io::Error::other(SourceError::TooLong { length })));
                    }
                }
            }
            if self.step(&mut machine, source, None).await? == Step::Idle {
                break;
            }
        }
        if !machine.is_complete() {
            return Err(Error::Usage(format!("upload stopped in state {:?}", machine.state())));
        }
        Ok(machine.offset())
    }

    /// Drives `upload` by one request: plans it, sends it with the bytes from `source`, and feeds the
    /// answer back. The building block of a retry loop.
    ///
    /// Before a PATCH of an upload of unknown length, it reads ahead in `source` to find out whether the
    /// source ends within the next chunk, and declares the length if so. After every answer it lets a
    /// forward-only source drop the bytes the server confirmed.
    ///
    /// # Errors
    ///
    /// The request's error. The machine has already fallen back to a safe next step (HEAD, or creation
    /// again); the caller decides whether to wait and call `step` again.
    pub async fn step(
        &self,
        upload: &mut Upload,
        source: &Source,
        on_sent: Option<SentCallback>,
    ) -> Result<Step, Error> {
        if upload.state() == State::Uploading && upload.length().is_none() && !upload.is_in_flight() {
            let chunk = upload.chunk_size();
            let available = source.available(upload.offset(), chunk).await.map_err(Error::Source)?;
            if available < chunk {
                upload.declare_length(upload.offset() + available).map_err(|e| Error::Usage(e.to_string()))?;
            }
        }
        let Some(plan) = upload.poll_request() else {
            return Ok(Step::Idle);
        };
        let response = match self.send_with_progress(&plan, Some(source), on_sent).await {
            Ok(r) => r,
            Err(e) => {
                upload.handle_failure();
                return Err(e);
            }
        };
        upload.handle_response(&response.head).map_err(|e| Error::from_proto(e, plan.kind, &plan.url, &response))?;
        source.release(upload.offset()).await;
        Ok(Step::Sent(plan.kind))
    }

    /// DELETE: removes an upload (termination).
    ///
    /// # Errors
    ///
    /// Transport errors; [`Error::Status`] (404 or 410 when already gone, 405 when unsupported).
    pub async fn terminate(&self, upload: &Url) -> Result<(), Error> {
        self.exchange(&tus_proto::delete(upload), None, |_, r| tus_proto::check_delete(r)).await
    }

    /// POST of a final upload joining `parts` in order (concatenation), carrying `metadata`.
    ///
    /// # Errors
    ///
    /// Transport errors; [`Error::Status`] (400 when a part is unfinished, 501 without concatenation);
    /// [`Error::Protocol`] for a missing or unusable `Location`.
    pub async fn concatenate(&self, endpoint: &Url, parts: &[Url], metadata: &Metadata) -> Result<Created, Error> {
        let plan = tus_proto::concatenate(endpoint, parts, metadata).map_err(|e| Error::Usage(e.to_string()))?;
        self.exchange(&plan, None, Created::from_response).await
    }
}
