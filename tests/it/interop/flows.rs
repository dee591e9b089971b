//! The tus-retry flows against rustus and @tus/server: whole uploads, 413 halving, parallel parts,
//! readers, resume after an interruption, and termination on cancel.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tus_client::Source;
use tus_retry::{
    CancellationToken, Error as RetryError, FileStore, MemoryStore, Metadata, RetryConfiguration, StoredUpload,
    UploadStore, Uploader,
};
use tus_tests::real::{RealServer, RustusOptions, ServerKind};
use url::Url;

use super::{assert_stored, both, bounded, chunk, client, data, rustus, start, upload_count};

both!(
    upload_a_multi_mib_file,
    upload_from_a_reader_of_unknown_length,
    resume_from_a_file_store_after_cancel,
    resume_from_a_memory_store_after_cancel,
    terminate_on_cancel_removes_the_upload,
    upload_multiple,
);

/// An uploader with fast retries (so a failing test fails quickly) and the server's chunk size.
fn uploader(kind: ServerKind) -> Uploader {
    let retry = RetryConfiguration::default().initial_delay(Duration::from_millis(50)).jitter_seed(7).retry_attempts(5);
    Uploader::new(client()).retry(retry).chunk_size(chunk(kind))
}

fn metadata(name: &str) -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("filename", name);
    metadata
}

async fn upload_a_multi_mib_file(kind: ServerKind) {
    let server = start(kind).await;
    let bytes = data(5 * 1024 * 1024 + 17, 60);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let confirmed = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&confirmed);
    let url = uploader(kind)
        .on_progress(move |p| {
            assert!(p.total == Some(5 * 1024 * 1024 + 17));
            seen.store(p.confirmed, Ordering::SeqCst);
        })
        .upload(&server.endpoint(), Source::file(file.path()).unwrap(), metadata("big.bin"))
        .await
        .expect("upload");
    assert_stored(&server, &url, &bytes);
    assert_eq!(confirmed.load(Ordering::SeqCst), bytes.len() as u64);
    let info = client().info(&url).await.unwrap();
    assert!(info.is_complete());
    assert_eq!(info.metadata.unwrap().get("filename"), Some(&b"big.bin"[..]));
    assert_eq!(upload_count(&server), 1);
}

/// rustus refuses PATCH bodies over 256 KiB by default (413); 4 MiB chunks are halved four times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_413_halves_the_chunk_size_until_it_fits() {
    bounded(async {
        let server = rustus(RustusOptions::default()).await;
        let bytes = data(3 * 1024 * 1024 + 5, 61);
        let url = uploader(ServerKind::Rustus)
            .chunk_size(4 * 1024 * 1024)
            .upload(&server.endpoint(), Source::bytes(bytes.clone()), Metadata::new())
            .await
            .expect("upload with halving");
        assert_stored(&server, &url, &bytes);
        // Without the halving floor above 256 KiB it cannot work: a floor of 1 MiB gives up on the 413.
        let err = uploader(ServerKind::Rustus)
            .chunk_size(4 * 1024 * 1024)
            .min_chunk_size(1024 * 1024)
            .upload(&server.endpoint(), Source::bytes(bytes.clone()), Metadata::new())
            .await
            .unwrap_err();
        let client_err = err.client_error().unwrap_or_else(|| panic!("{err:?}"));
        assert_eq!(client_err.status(), Some(http::StatusCode::PAYLOAD_TOO_LARGE), "{err}");
    })
    .await;
}

async fn upload_from_a_reader_of_unknown_length(kind: ServerKind) {
    let server = start(kind).await;
    let bytes = data(3 * chunk(kind) as usize + 999, 62);
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    let owned = bytes.clone();
    let feeder = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        writer.write_all(&owned).await.expect("feed the pipe");
    });
    let url = uploader(kind)
        .upload(&server.endpoint(), Source::reader(reader), metadata("stdin"))
        .await
        .expect("upload from a reader");
    feeder.await.unwrap();
    assert_stored(&server, &url, &bytes);
    let info = client().info(&url).await.unwrap();
    assert_eq!((info.offset, info.length), (bytes.len() as u64, Some(bytes.len() as u64)));
}

/// An upload store that also records every URL put in it.
#[derive(Debug, Default)]
struct Recording {
    inner: MemoryStore,
    urls: Mutex<Vec<Url>>,
}

impl UploadStore for Recording {
    fn get(&self, key: &str) -> io::Result<Option<StoredUpload>> {
        self.inner.get(key)
    }

    fn put(&self, key: &str, upload: &StoredUpload) -> io::Result<()> {
        self.urls.lock().unwrap().push(upload.url.clone());
        self.inner.put(key, upload)
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        self.inner.remove(key)
    }
}

/// Uploads `source` with `store`, cancelling once the server confirmed `stop_at` bytes; returns the
/// error.
async fn interrupted(uploader: Uploader, server: &RealServer, source: Source, stop_at: u64) -> RetryError {
    let token = CancellationToken::new();
    let trigger = token.clone();
    uploader
        .cancel_token(token)
        .on_progress(move |p| {
            if p.confirmed >= stop_at {
                trigger.cancel();
            }
        })
        .upload(&server.endpoint(), source, metadata("resumed.bin"))
        .await
        .expect_err("cancelled")
}

/// Resumes with `uploader` (same store) and checks that it went on from where the server was.
async fn resumed(uploader: Uploader, server: &RealServer, source: Source, first: &Url, held: u64, bytes: &[u8]) {
    let first_confirmed = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&first_confirmed);
    let url = uploader
        .on_progress(move |p| {
            seen.lock().unwrap().get_or_insert(p.confirmed);
        })
        .upload(&server.endpoint(), source, metadata("resumed.bin"))
        .await
        .expect("resumed upload");
    assert_eq!(&url, first, "{}: the same upload was resumed", server.kind());
    assert_eq!(upload_count(server), 1, "{}: no second upload was created", server.kind());
    assert_eq!(*first_confirmed.lock().unwrap(), Some(held), "{}: it started from the server's offset", server.kind());
    assert_stored(server, &url, bytes);
}

async fn resume_from_a_file_store_after_cancel(kind: ServerKind) {
    let server = start(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path().join("store")).unwrap());
    let bytes = data(6 * chunk(kind) as usize + 3, 63);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &bytes).unwrap();
    let source = || Source::file(file.path()).unwrap();

    let stop_at = 2 * chunk(kind);
    let err = interrupted(uploader(kind).store(store.clone()), &server, source(), stop_at).await;
    assert!(err.is_cancelled(), "{err:?}");
    let first = err.upload_url().expect("the cancelled upload can be resumed").clone();
    let held = client().offset(&first).await.unwrap();
    assert_eq!(held, stop_at, "{kind}: cancelled between chunks");
    assert_eq!(std::fs::read_dir(store.dir()).unwrap().count(), 1, "one resume entry");

    resumed(uploader(kind).store(store.clone()), &server, source(), &first, held, &bytes).await;
    assert_eq!(std::fs::read_dir(store.dir()).unwrap().count(), 0, "the entry is removed on success");
}

async fn resume_from_a_memory_store_after_cancel(kind: ServerKind) {
    let server = start(kind).await;
    let store = Arc::new(MemoryStore::new());
    let bytes = data(5 * chunk(kind) as usize, 64);
    let stop_at = chunk(kind);
    let err = interrupted(
        uploader(kind).store(store.clone()).resume_key("memory-1"),
        &server,
        Source::bytes(bytes.clone()),
        stop_at,
    )
    .await;
    assert!(err.is_cancelled(), "{err:?}");
    let first = err.upload_url().expect("resumable").clone();
    assert_eq!(store.len(), 1);
    let held = client().offset(&first).await.unwrap();
    assert_eq!(held, stop_at);

    // A different key does not find it: a new upload would be made. The same key resumes.
    resumed(
        uploader(kind).store(store.clone()).resume_key("memory-1"),
        &server,
        Source::bytes(bytes.clone()),
        &first,
        held,
        &bytes,
    )
    .await;
    assert!(store.is_empty());
}

async fn terminate_on_cancel_removes_the_upload(kind: ServerKind) {
    let server = start(kind).await;
    let store = Arc::new(Recording::default());
    let bytes = data(4 * chunk(kind) as usize, 65);
    let uploader = uploader(kind).store(store.clone()).resume_key("terminated").terminate_on_cancel(true);
    let err = interrupted(uploader, &server, Source::bytes(bytes), chunk(kind)).await;
    assert!(err.is_cancelled(), "{err:?}");
    assert_eq!(err.upload_url(), None, "{kind}: terminated, nothing to resume");
    let urls = store.urls.lock().unwrap().clone();
    assert_eq!(urls.len(), 1, "{kind}: one upload was created");
    let err = client().info(&urls[0]).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND), "{kind}: {err}");
    assert_eq!(upload_count(&server), 0, "{kind}: the server removed its record");
    assert!(server.stored_bytes(&urls[0]).is_err(), "{kind}: and the bytes");
}

async fn upload_multiple(kind: ServerKind) {
    let server = start(kind).await;
    let sources_data = [data(700_000, 66), data(10, 67), data(1_300_000, 68), data(250_000, 69)];
    let sources: Vec<Source> = sources_data.iter().map(|b| Source::bytes(b.clone())).collect();
    let result = uploader(kind).upload_multiple(&server.endpoint(), sources, metadata("multi.bin")).await;
    match kind {
        ServerKind::Rustus => {
            let url = result.expect("upload_multiple");
            assert_stored(&server, &url, &sources_data.concat());
            let info = client().info(&url).await.unwrap();
            assert!(info.is_complete());
            assert_eq!(info.metadata.unwrap().get("filename"), Some(&b"multi.bin"[..]));
            assert_eq!(upload_count(&server), 5, "four parts and the final upload");
        }
        ServerKind::Node => {
            // @tus/server has no concatenation: a clear error before any data is sent.
            let err = result.unwrap_err();
            match &err {
                RetryError::Unsupported { extension, .. } => assert_eq!(*extension, "concatenation"),
                other => panic!("expected Unsupported, got {other:?}"),
            }
            assert!(err.to_string().contains("concatenation"), "{err}");
            // Nothing was created: no POST reached the server.
            assert_eq!(upload_count(&server), 0);
            assert_eq!(std::fs::read_dir(server.data_dir()).unwrap().count(), 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustus_upload_parallel_in_three_parts() {
    bounded(async {
        let server = rustus(RustusOptions { max_body_size: Some(1024 * 1024), ..RustusOptions::default() }).await;
        let bytes = data(3 * 1024 * 1024 + 2, 70);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &bytes).unwrap();
        let url = uploader(ServerKind::Rustus)
            .chunk_size(1024 * 1024)
            .upload_parallel(&server.endpoint(), Source::file(file.path()).unwrap(), 3, metadata("parallel.bin"))
            .await
            .expect("upload_parallel");
        assert_stored(&server, &url, &bytes);
        assert_eq!(upload_count(&server), 4, "three parts and the final upload");
        let info = client().info(&url).await.unwrap();
        assert!(info.is_complete());
        assert_eq!(info.metadata.as_ref().unwrap().get("filename"), Some(&b"parallel.bin"[..]));
        let Some(tus_proto::UploadConcat::Final(parts)) = info.concat else { panic!("not a final upload: {info:?}") };
        assert_eq!(parts.len(), 3);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_upload_parallel_is_unsupported_before_any_data() {
    bounded(async {
        let server = start(ServerKind::Node).await;
        let err = uploader(ServerKind::Node)
            .upload_parallel(&server.endpoint(), Source::bytes(data(100_000, 71)), 3, Metadata::new())
            .await
            .unwrap_err();
        assert!(matches!(err, RetryError::Unsupported { extension: "concatenation", .. }), "{err:?}");
        assert_eq!(std::fs::read_dir(server.data_dir()).unwrap().count(), 0);
    })
    .await;
}
